// What GoTel's caches never read, dropped from each object as it arrives: `metadata.managedFields`
// (server-side apply's bookkeeping, often larger than the spec and status together) and kubectl's
// `last-applied-configuration` annotation (a second copy of the whole object). Every other field
// is kept: status writes patch from the cached status and resourceVersion, and alert templates
// read GoTel's own annotations. See docs/capacity.md for what this saves per object.
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

interface Trimmable {
  metadata: { managedFields?: unknown; annotations?: Record<string, string> };
}

/** Drops managedFields and the last-applied annotation, in place; returns `obj`. */
export function trimObject<T>(obj: T): T {
  const meta = (obj as Partial<Trimmable> | null)?.metadata;
  if (!meta) return obj;
  delete meta.managedFields;
  if (meta.annotations && LAST_APPLIED in meta.annotations) {
    delete meta.annotations[LAST_APPLIED];
    if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  }
  return obj;
}
