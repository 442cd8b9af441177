import type * as k8s from '@kubernetes/client-node';

/** What a WatchedCollection is told about the objects it keeps an index of, and what it says about its watch. */
export interface WatchTimings {
  /** Server-side timeout of each watch request (the apiserver ends it then, and it is started again). */
  readonly watchTimeoutSeconds: number;
  /** How often the watch is checked for a stall. */
  readonly stallCheckIntervalMs?: number;
}

/** What /healthz and /readyz say about a watch. */
export interface WatchHealth {
  /** The watch loop is running (it restarts itself after errors; it only ends at stop()). */
  readonly live: boolean;
  /** Synced, not stalled, and the last relist (if one was needed) succeeded. */
  readonly ready: boolean;
  readonly problem: string | undefined;
}

export interface KubeObject {
  metadata?: k8s.V1ObjectMeta;
}

export interface KubeList<T> {
  items: T[];
  metadata?: k8s.V1ListMeta;
}

/** One resource kind to keep an index of: how to list it, where to watch it, what to keep of each object. */
export interface WatchedResource<T extends KubeObject, Info> {
  /** `node`, `volume attachment`: in logs and health problems. */
  readonly noun: string;
  /** `nodes`, `volumeattachments`: the kube_api_calls metric's resource. */
  readonly resource: string;
  /** `/api/v1/nodes` */
  readonly watchPath: string;
  /** Added to every watch request (a `fieldSelector` the list applies too). */
  readonly watchQuery?: Readonly<Record<string, string>>;
  /** The index's key of an object; its name unless told (`namespace/name` for namespaced objects). */
  keyOf?(object: T): string | undefined;
  list(page: { limit: number; _continue?: string }, options: k8s.ConfigurationOptions): Promise<KubeList<T>>;
  /** What is kept of an object; undefined leaves it out of the index (a Node without an EC2 provider id). */
  toInfo(object: T): Info | undefined;
}

/** Told of every change to the index (by key: the object's name unless `keyOf` says otherwise), in order. */
export interface CollectionListener<Info> {
  /** `previous`: what the index held for that key before. */
  upsert(name: string, info: Info, previous: Info | undefined): void;
  remove(name: string, info: Info): void;
}
