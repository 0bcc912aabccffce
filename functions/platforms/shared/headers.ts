/**
 * Case-insensitive header lookup: API Gateway lower-cases header names in some payload versions and not in
 * others, and tests or emulators may use either spelling.
 */
export function getHeader(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const direct = headers[name] ?? headers[name.toLowerCase()];
  if (direct !== undefined) {
    return direct;
  }
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) {
      return value;
    }
  }
  return undefined;
}
