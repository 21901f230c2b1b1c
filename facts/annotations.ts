/** The declarations a workload carries for the policy pack to read: each names why. */

/** Annotation on a workload (label on a Docker container) that declares, with a reason, that its pods need the host (host network/PID/filesystem). */
export const HOST_ACCESS_ANNOTATION = "flowviz.io/host-access";
/** Annotation on a Service or Ingress that declares, with a reason, that it is reachable from outside the cluster. */
export const EXPOSURE_ANNOTATION = "flowviz.io/exposure";
/** Label on a Docker container that declares why it takes credentials in its environment (its image reads them nowhere else). */
export const ENV_CREDENTIALS_LABEL = "flowviz.io/env-credentials";

/** Annotation on a Role or ClusterRole that declares, with a reason, that it grants more than reading its own pods (Secrets, exec, workloads, RBAC, webhooks): an operator's, from its release. */
export const RBAC_REASON_ANNOTATION = "flowviz.io/rbac-reason";
