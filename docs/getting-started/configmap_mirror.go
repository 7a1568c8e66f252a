// The ConfigMap mirror of docs/getting-started.md written with controller-runtime, only to
// compare line counts (not built here). Same behaviour: annotation mirror.example.com/to lists
// the target namespaces, copies carry mirror.example.com/from, a finalizer deletes the copies.
package main

import (
	"context"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

const (
	targetsKey = "mirror.example.com/to"
	sourceKey  = "mirror.example.com/from"
	finalizer  = "mirror.example.com/cleanup"
)

func targets(cm *corev1.ConfigMap) []string {
	var out []string
	for _, ns := range strings.Split(cm.Annotations[targetsKey], ",") {
		if ns != "" && ns != cm.Namespace {
			out = append(out, ns)
		}
	}
	return out
}

// A change to a copy reconciles its source (which puts the copy back).
func sourceOf(_ context.Context, o client.Object) []reconcile.Request {
	ns, name, ok := strings.Cut(o.GetAnnotations()[sourceKey], "/")
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

type Mirror struct{ client.Client }

func (m *Mirror) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var src corev1.ConfigMap
	if err := m.Get(ctx, req.NamespacedName, &src); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !src.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(&src, finalizer) {
			return ctrl.Result{}, nil
		}
		for _, ns := range targets(&src) {
			cp := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: src.Name}}
			if err := m.Delete(ctx, cp); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
		}
		controllerutil.RemoveFinalizer(&src, finalizer)
		return ctrl.Result{}, m.Update(ctx, &src)
	}
	if len(targets(&src)) == 0 {
		return ctrl.Result{}, nil // not a source (or a copy)
	}
	if controllerutil.AddFinalizer(&src, finalizer) {
		return ctrl.Result{}, m.Update(ctx, &src)
	}
	for _, ns := range targets(&src) {
		cp := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: src.Name}}
		_, err := controllerutil.CreateOrUpdate(ctx, m.Client, cp, func() error {
			if cp.Annotations == nil {
				cp.Annotations = map[string]string{}
			}
			cp.Annotations[sourceKey] = src.Namespace + "/" + src.Name
			cp.Data = src.Data
			return nil
		})
		if err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

func main() {
	ctrl.SetLogger(zap.New())
	log := ctrl.Log.WithName("configmap-mirror")
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{Metrics: server.Options{BindAddress: addr}})
	if err != nil {
		log.Error(err, "creating the manager")
		os.Exit(1)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(&corev1.ConfigMap{}).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(sourceOf)).
		Complete(&Mirror{mgr.GetClient()})
	if err != nil {
		log.Error(err, "building the controller")
		os.Exit(1)
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "stopped")
		os.Exit(1)
	}
}
