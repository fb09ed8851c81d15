// The element types rigd stores, without h5wasm: the main thread checks appends with these.

/** The element types rigd stores, with their h5wasm (struct-style) codes and typed-array classes. */
export const ELEMENT_TYPES = {
  uint8: { code: "<B", bytes: 1, array: Uint8Array },
  uint16: { code: "<H", bytes: 2, array: Uint16Array },
  int16: { code: "<h", bytes: 2, array: Int16Array },
  uint32: { code: "<I", bytes: 4, array: Uint32Array },
  int64: { code: "<q", bytes: 8, array: BigInt64Array },
  float32: { code: "<f", bytes: 4, array: Float32Array },
  float64: { code: "<d", bytes: 8, array: Float64Array },
} as const;
export type ElementType = keyof typeof ELEMENT_TYPES;
export type NumericArray = Uint8Array | Uint16Array | Int16Array | Uint32Array | BigInt64Array | Float32Array | Float64Array;

/** Which element type a typed array holds, or undefined for arrays rigd does not store. */
export function elementTypeOf(data: ArrayBufferView): ElementType | undefined {
  for (const [name, t] of Object.entries(ELEMENT_TYPES)) if (data instanceof t.array) return name as ElementType;
  return undefined;
}
