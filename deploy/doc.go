// Package deploy holds the deployment files of msgdispatch — the Dockerfile,
// compose.yaml and the k8s kustomize base — and no code: its tests parse
// every manifest and check it against the code (commands and flags, config
// keys and environment, ports, probe paths, metric names in the alerts), and
// run the compose topology here as processes.
package deploy
