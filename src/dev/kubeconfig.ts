// A kubeconfig with one cluster, user and context, embedding the certificates, in the form that
// both kubectl and @kubernetes/client-node read.
import { stringify } from 'yaml';

export interface KubeconfigParts {
  name: string;
  server: string;
  ca: string;
  cert: string;
  key: string;
}

export function kubeconfigYaml({ name, server, ca, cert, key }: KubeconfigParts): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [{ name, user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
    preferences: {},
  });
}
