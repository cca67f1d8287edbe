/** Encodes a string array as a Postgres array literal (`{"a","b\"c"}`), for binding through `unnest($n::text[])`. */
export function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}
