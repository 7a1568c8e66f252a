// kop-gen: typed C++ views and builders from CustomResourceDefinitions (docs/typed-crds.md).
//
//   kop-gen --namespace website::api [--output website_types.h] crds/website.yaml...
//
// Reads every CustomResourceDefinition of the given YAML or JSON files (other documents are
// skipped; a file without one is an error) and writes one header (standard output without
// --output). It runs at build time on the project's own CRD files; it reads them and nothing else.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "emit.h"
#include "schema.h"

namespace {

constexpr std::string_view kUsage =
    "usage: kop-gen --namespace NS [--output FILE] CRD_FILE...\n"
    "  Writes a C++ header of typed views and builders for the CustomResourceDefinitions in\n"
    "  CRD_FILE (YAML or JSON), one namespace NS::<version> per CRD version.\n";

int fail(const std::string& what) {
  std::cerr << "kop-gen: " << what << "\n";
  return 1;
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int main(int argc, char** argv) {
  kop::gen::Options options;
  std::string output;
  std::vector<std::string> inputs;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--namespace" || a == "--output" || a == "-o") && i + 1 < args.size()) {
      (a == "--namespace" ? options.ns : output) = args[++i];
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << kUsage;
      return fail("unknown option " + a);
    } else {
      inputs.push_back(a);
    }
  }
  if (options.ns.empty() || inputs.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  std::vector<kop::gen::Crd> crds;
  for (const std::string& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(path + ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    auto read = kop::gen::read_crds(text.str(), path);
    if (!read.ok()) return fail(std::string(read.status().message()));
    for (kop::gen::Crd& crd : *read) crds.push_back(std::move(crd));
    options.source += (options.source.empty() ? "" : ", ") + base_name(path);
  }

  auto header = kop::gen::generate(crds, options);
  if (!header.ok()) return fail(std::string(header.status().message()));
  if (output.empty()) {
    std::cout << *header;
    return std::cout.good() ? 0 : 1;
  }
  std::string tmp = output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << *header;
    if (!out.good()) return fail(tmp + ": cannot write");
  }
  if (std::rename(tmp.c_str(), output.c_str()) != 0) return fail(output + ": cannot write");
  return 0;
}
