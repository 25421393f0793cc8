/** A byte count in the units a person reads, 1 KB = 1,024 bytes as chat apps and Windows count,
 *  so that the service's cap of 52,428,800 bytes reads "50 MB", as the seed names it. */
export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  // From 999.5 a value would round to "1000": that is the next unit's 1.0.
  while (value >= 999.5 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // From 9.95 one decimal would show "10.0": whole numbers from 10, as above.
  return `${value >= 9.95 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/** The name to save a file under: its original name, with the extension of what is stored (a HEIC
 * photo is stored as a JPEG, so IMG_0001.HEIC downloads as IMG_0001.jpg). */
export function downloadName(originalName: string, filename: string): string {
  const stored = extensionOf(filename);
  if (!stored || extensionOf(originalName) === stored) return originalName;
  const dot = originalName.lastIndexOf(".");
  return `${dot > 0 ? originalName.slice(0, dot) : originalName}.${stored}`;
}

export function clockTime(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
