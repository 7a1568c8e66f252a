// A program outside the tree, built only from the installed headers and kop.pc.
#include <kop/api/object.h>
#include <kop/version.h>

#include <cstdio>
#include <string>

int main() {
  auto o = kop::api::Object::parse(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"installed"}})");
  if (!o.ok()) return 1;
  std::printf("%s %s\n", std::string(kop::version()).c_str(), std::string(o->name()).c_str());
  return 0;
}
