/**
 * The text actually sent for one input: `prefix` (an instruction some models expect, e.g. E5's `query: ` and
 * `passage: `) then the text, cut at `maxChars` UTF-16 code units. A cut never splits a surrogate pair, so a Han
 * character outside the BMP or an emoji at the boundary is dropped whole rather than sent as a lone surrogate (which
 * JSON carries but a tokenizer may reject).
 */
export function inputText(text: string, maxChars: number, prefix = ''): string {
  const whole = prefix === '' ? text : `${prefix}${text}`;
  if (whole.length <= maxChars) return whole;
  const end = isHighSurrogate(whole.charCodeAt(maxChars - 1)) ? maxChars - 1 : maxChars;
  return whole.slice(0, end);
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
