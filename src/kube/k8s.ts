/**
 * The one module that imports `@kubernetes/client-node` at run time: every adapter in src/kube imports it from here.
 *
 * The package's entry point loads every API group it generates (its KubeConfig alone pulls in all of them: ~14 MB
 * of JavaScript and ~70 MiB of memory), and its package.json offers no narrower entry. So the build
 * (scripts/bundle-kube-client.mjs) replaces this file's output with a tree-shaken bundle of exactly the values named
 * below: the same official client, the API groups the service does not use left out (~22 MiB instead of ~70).
 * Tests that run the TypeScript sources import the whole package through this file instead; the e2e tests and the
 * shipped CLI run the bundle. A value used from the client must be named here (a test checks that nothing else
 * imports the package at run time); types come through unchanged.
 */
export type * from '@kubernetes/client-node';
export {
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Observable,
  PatchStrategy,
  PolicyV1Api,
  ServerConfiguration,
  StorageV1Api,
  Watch,
  createConfiguration,
} from '@kubernetes/client-node';
