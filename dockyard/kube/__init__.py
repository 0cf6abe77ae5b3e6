"""Kubernetes manifests from containers and Compose projects (`kube generate`), and manifests run
locally as pods of engine containers (`kube play`, `kube down`, `pod ls/inspect/rm`)."""
