// Dates as NWB stores them.

/** Now as ISO 8601 with the local timezone offset, as pynwb writes file_create_date. */
export function isoNow(date = new Date()): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, "0");
  const local = new Date(date.getTime() + offset * 60_000);
  return `${local.toISOString().slice(0, 23)}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}
