/**
 * Which buffers of a message can be moved (not copied) to another thread: only those that own
 * their whole `ArrayBuffer`. A `Buffer` sliced from Node's shared pool must be copied: moving its
 * `ArrayBuffer` would detach unrelated buffers.
 */
export function transferablesOf(value: unknown, found: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 4 || value === null || typeof value !== "object") return found;
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength && buffer.byteLength > 0 && !found.includes(buffer)) found.push(buffer);
    return found;
  }
  for (const v of Object.values(value)) transferablesOf(v, found, depth + 1);
  return found;
}
