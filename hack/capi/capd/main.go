// Command capd runs Cluster API's Docker infrastructure provider (CAPD) for csops's test and
// dev control planes: CAPD's own webhooks (conversion, defaulting, validation of the Docker and
// Dev kinds) and its Docker controllers, from the sigs.k8s.io/cluster-api/test module.
//
// CAPD's upstream main also starts an in-memory workload-cluster server whose debug listener
// binds the fixed port 19000, so two of them cannot run on one machine (a test session and a
// dev cluster, or two engineers' sessions). This launcher leaves that server out; everything
// else listens on the ports its flags name. Its flags are the other managers' flags, so the
// control plane starts all four the same way.
//
// Built by hack/capi/build.py inside its generated wrapper module; not part of the Python
// package.
package main

import (
	"flag"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/feature"
	"sigs.k8s.io/cluster-api/test/infrastructure/container"
	infrav1beta1 "sigs.k8s.io/cluster-api/test/infrastructure/docker/api/v1beta1"
	infrav1 "sigs.k8s.io/cluster-api/test/infrastructure/docker/api/v1beta2"
	"sigs.k8s.io/cluster-api/test/infrastructure/docker/controllers"
	"sigs.k8s.io/cluster-api/test/infrastructure/docker/webhooks"
)

const userAgent = "csops-capd"

type setup interface {
	SetupWebhookWithManager(mgr ctrl.Manager) error
}

func main() {
	webhookPort := flag.Int("webhook-port", 9443, "port of the webhook server")
	certDir := flag.String("webhook-cert-dir", "", "directory holding the webhook server's tls.crt and tls.key")
	healthAddr := flag.String("health-addr", ":9440", "address of /healthz and /readyz")
	metricsAddr := flag.String("diagnostics-address", "0", "address of /metrics, served over plain HTTP (0: off)")
	namespace := flag.String("namespace", "", "reconcile objects in this namespace only (default: all)")
	gates := flag.String("feature-gates", "", "Cluster API feature gates, key=value pairs")
	flag.Bool("insecure-diagnostics", true, "accepted for symmetry with the other managers; /metrics is always plain HTTP")
	flag.Bool("leader-elect", false, "accepted for symmetry with the other managers; there is no leader election")
	klog.InitFlags(nil)
	flag.Parse()
	ctrl.SetLogger(klog.NewKlogr())
	log := ctrl.Log.WithName("capd")

	fail := func(err error, msg string) {
		if err != nil {
			log.Error(err, msg)
			os.Exit(1)
		}
	}
	if *gates != "" {
		fail(feature.MutableGates.Set(*gates), "invalid --feature-gates")
	}

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		clusterv1.AddToScheme,
		infrav1beta1.AddToScheme,
		infrav1.AddToScheme,
	} {
		fail(add(scheme), "building the scheme")
	}

	options := ctrl.Options{
		Scheme:                 scheme,
		HealthProbeBindAddress: *healthAddr,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		WebhookServer:          webhook.NewServer(webhook.Options{Port: *webhookPort, CertDir: *certDir}),
	}
	if *namespace != "" {
		options.Cache.DefaultNamespaces = map[string]cache.Config{*namespace: {}}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), options)
	fail(err, "creating the manager")
	fail(mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()), "adding the ready check")
	fail(mgr.AddHealthzCheck("webhook", mgr.GetWebhookServer().StartedChecker()), "adding the health check")

	ctx := ctrl.SetupSignalHandler()
	runtimeClient, err := container.NewDockerClient()
	fail(err, "creating the Docker client")
	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient: mgr.GetClient(),
		Client:       clustercache.ClientOptions{UserAgent: userAgent},
	}, controller.Options{})
	fail(err, "creating the cluster cache")

	fail((&controllers.DockerClusterReconciler{
		Client: mgr.GetClient(), ContainerRuntime: runtimeClient,
	}).SetupWithManager(ctx, mgr, controller.Options{}), "adding the DockerCluster controller")
	fail((&controllers.DockerMachineTemplateReconciler{
		Client: mgr.GetClient(), ContainerRuntime: runtimeClient,
	}).SetupWithManager(ctx, mgr, controller.Options{}), "adding the DockerMachineTemplate controller")
	fail((&controllers.DockerMachineReconciler{
		Client: mgr.GetClient(), ContainerRuntime: runtimeClient, ClusterCache: clusterCache,
	}).SetupWithManager(ctx, mgr, controller.Options{}), "adding the DockerMachine controller")

	for _, hooks := range []setup{
		&webhooks.DockerCluster{},
		&webhooks.DockerClusterTemplate{},
		&webhooks.DockerMachine{},
		&webhooks.DockerMachineTemplate{},
		&webhooks.DevCluster{},
		&webhooks.DevClusterTemplate{},
		&webhooks.DevMachine{},
		&webhooks.DevMachineTemplate{},
	} {
		fail(hooks.SetupWebhookWithManager(mgr), "adding webhooks")
	}

	log.Info("starting")
	fail(mgr.Start(ctx), "running the manager")
}
