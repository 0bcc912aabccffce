/** How the sandbox page writes amounts, durations and times. */

export function formatUsd(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  if (value === 0) return '$0';
  if (value >= 0.01) return `$${value.toFixed(4)}`;
  const digits = Math.min(10, Math.ceil(-Math.log10(value)) + 2);
  return `$${value.toFixed(digits).replace(/0+$/, '')}`;
}

export function formatLatency(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString('en-US')} ms`;
}

export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export const plural = (n, word) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
