import * as k8s from './k8s.js';

/** Per-call middleware that sends a PATCH as a JSON merge patch (the client library defaults to JSON patch). */
export const MERGE_PATCH: k8s.Middleware = {
  pre: async (context) => {
    context.setHeaderParam('Content-Type', k8s.PatchStrategy.MergePatch);
    return context;
  },
  post: async (context) => context,
};
