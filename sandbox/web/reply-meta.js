import { node } from './dom.js';
import { formatLatency, formatUsd, plural } from './format.js';

/** The chips under a bot reply (latency, model, answering model, cache, PII, filter, cost) and the question it quotes. */

const SOURCE_LABELS = {
  command: 'command',
  fallback: 'fallback answer',
  blocked_input: 'input blocked',
  empty: 'empty question',
};
/** Why no model was called, by ledger source. */
const NO_MODEL_REASONS = {
  cache: 'answered from the FAQ cache',
  command: 'answered by a command (/reset, /cost)',
  blocked_input: 'the question was blocked by the input filter',
  empty: 'the message held no question',
};
const COST_COMPONENTS = [
  ['apiGateway', 'API Gateway'],
  ['lambda', 'Lambda'],
  ['sqs', 'SQS'],
  ['dynamodb', 'DynamoDB'],
  ['logs', 'CloudWatch Logs'],
  ['sagemaker', 'SageMaker'],
];
/** Decimals that show the smallest non-zero amount with 3 significant digits (at most 9), for one aligned column. */
function columnDecimals(values) {
  const smallest = Math.min(...values.filter((v) => typeof v === 'number' && v > 0));
  return Number.isFinite(smallest) ? Math.min(9, Math.max(2, Math.ceil(-Math.log10(smallest)) + 2)) : 2;
}

function costDetails(row) {
  const components = row.components || {};
  const shown = COST_COMPONENTS.filter(([id]) => typeof components[id] === 'number');
  const decimals = columnDecimals([...shown.map(([id]) => components[id]), row.totalUsd]);
  const usd = (value) => (typeof value === 'number' ? `$${value.toFixed(decimals)}` : '—');
  return node(
    'details',
    { class: 'cost-details', 'data-testid': 'cost-breakdown' },
    node('summary', {}, 'cost breakdown'),
    node(
      'table',
      {},
      node(
        'tbody',
        {},
        shown.map(([id, label]) =>
          node('tr', {}, node('th', { scope: 'row' }, label), node('td', {}, usd(components[id]))),
        ),
        node('tr', { class: 'total' }, node('th', { scope: 'row' }, 'Total'), node('td', {}, usd(row.totalUsd))),
      ),
    ),
    typeof row.totalUsd === 'number'
      ? node('p', { class: 'per-thousand' }, `≈ ${formatUsd(row.totalUsd * 1000)} per 1,000 replies like this one`)
      : null,
  );
}

const SHOWN_TITLES = {
  page: 'From the webhook accepting the question (its 200 ack reaching this page) to this whole reply shown here, measured by this page',
  sandbox:
    'From the webhook accepting the question (its 200 ack) to the platform holding this whole reply, from the sandbox’s timestamps (this page did not send the question)',
};

/** `shown`: { ms, measured: 'page' | 'sandbox' }, or null until the reply is complete and its question known. */
function shownChip(shown) {
  return node(
    'span',
    {
      class: 'chip latency',
      'data-testid': 'meta-shown',
      'data-ms': shown ? Math.round(shown.ms) : null,
      'data-measured': shown ? shown.measured : null,
      'data-pending': !shown,
      title: shown ? SHOWN_TITLES[shown.measured] : 'Shown once the reply is complete',
    },
    `ack → shown ${shown ? formatLatency(shown.ms) : '…'}`,
  );
}

/** The model's own time (its call, retries included, from the audit record), or why there was none. */
function modelChip(row, facts) {
  const attrs = { class: 'chip latency', 'data-testid': 'meta-model' };
  if (facts && typeof facts.modelLatencyMs === 'number') {
    const title = 'Time the model took to answer (the whole call, retries included; from the audit record)';
    return node(
      'span',
      { ...attrs, 'data-ms': Math.round(facts.modelLatencyMs), title },
      `model ${formatLatency(facts.modelLatencyMs)}`,
    );
  }
  const source = facts?.source || row?.source;
  if (source === 'fallback') {
    return node(
      'span',
      { ...attrs, title: 'The model failed or timed out: this is the fallback answer' },
      'model failed',
    );
  }
  if (source && NO_MODEL_REASONS[source]) {
    const title = `No model call: ${NO_MODEL_REASONS[source]}. SageMaker costs nothing for this reply.`;
    return node('span', { ...attrs, class: 'chip latency good', title }, 'no model call · model $0');
  }
  return node(
    'span',
    { ...attrs, 'data-pending': true, title: 'Waiting for the audit record of this reply' },
    'model …',
  );
}

/**
 * Which model wrote the reply (issue 16): the primary or the backup the worker fell back to, with the model id the
 * ledger row names. The row's `modelSource` says which; without it (an older worker) the id is compared with the
 * sandbox's models (`GET /_sandbox/model`). No chip when no model wrote the reply (cache, commands, apologies).
 */
function answeredByChip(row, models) {
  const modelWrote = row.modelSource === 'primary' || row.modelSource === 'fallback' || row.source === 'model';
  if (!modelWrote || typeof row.model !== 'string') return null;
  let role = row.modelSource || null;
  if (!role && models) {
    if (models.fallback.state === 'up' && row.model === models.fallback.modelId) role = 'fallback';
    else if (row.model === models.primary.modelId) role = 'primary';
  }
  const label = role === 'fallback' ? 'backup' : role === 'primary' ? 'primary' : 'model';
  const title =
    role === 'fallback'
      ? `The primary model could not answer (down, failing or its circuit open): the backup model ${row.model} wrote this reply`
      : role === 'primary'
        ? `The primary model ${row.model} wrote this reply`
        : `Model ${row.model} wrote this reply`;
  return node(
    'span',
    {
      class: `chip answered-by answered-${label}`,
      'data-testid': 'meta-answered-by',
      'data-role': label,
      'data-model-id': row.model,
      title,
    },
    `answered by ${label} · ${row.model}`,
  );
}

function cacheChip(row) {
  if (row.source === 'cache') {
    return node(
      'span',
      {
        class: 'chip good',
        'data-testid': 'meta-cache',
        title: 'The same question was answered within the hour: no model call',
      },
      'from FAQ cache',
    );
  }
  if (row.source === 'model' || row.source === 'fallback') {
    return node('span', { class: 'chip', 'data-testid': 'meta-cache' }, 'cache miss');
  }
  return node(
    'span',
    { class: 'chip', 'data-testid': 'meta-cache', title: 'Commands and refused questions do not use the FAQ cache' },
    'cache not used',
  );
}

function piiChip(facts) {
  if (!facts || facts.piiFound === 0) return null;
  const items = plural(facts.piiFound, 'item');
  if (facts.piiMaskedForModel) {
    return node(
      'span',
      {
        class: 'chip filter-mask',
        'data-testid': 'meta-pii',
        title: `${items} of personal data (phone, ID, card, e-mail, IP) masked before the model saw the question; the quote shows what it saw`,
      },
      'PII masked',
    );
  }
  return node(
    'span',
    {
      class: 'chip filter-mask',
      'data-testid': 'meta-pii',
      title: `${items} of personal data found; no model saw this question masked (no model call, or MASK_MODEL_INPUT=false)`,
    },
    `PII found (${facts.piiFound})`,
  );
}

/**
 * The profile that shaped the answer (docs/PROFILES.md): which preferences, from where (member, directory, group
 * default). Only the bounded values the model saw; a role's free text never reaches it.
 */
function profileChip(facts) {
  if (!facts?.profile) return null;
  return node(
    'span',
    {
      class: 'chip profile',
      'data-testid': 'meta-profile',
      title: `The asker's profile shaped this answer: ${facts.profile}. Set yours with /profile set <field> <value>`,
    },
    `profile: ${facts.profile}`,
  );
}

/**
 * `item`: a reply with its ledger row (or null) and its question; `shown`: its "ack → shown" figure (shownChip);
 * `models`: the sandbox's models (`GET /_sandbox/model`), or null until known.
 */
export function botMeta(item, shown, models) {
  const { row } = item;
  const facts = item.question ? item.question.answer : null;
  if (!row) {
    return node(
      'div',
      { class: 'meta', 'data-testid': 'bot-meta' },
      shownChip(shown),
      modelChip(null, facts),
      node('span', { class: 'chip' }, 'measuring cost…'),
    );
  }
  const filter = row.filterDecision || 'allow';
  const sourceLabel = SOURCE_LABELS[row.source];
  const noModel = row.source in NO_MODEL_REASONS;
  return node(
    'div',
    { class: 'meta', 'data-testid': 'bot-meta' },
    shownChip(shown),
    modelChip(row, facts),
    answeredByChip(row, models),
    cacheChip(row),
    piiChip(facts),
    profileChip(facts),
    node('span', { class: `chip filter-${filter}`, 'data-testid': 'meta-filter' }, `filter: ${filter}`),
    node(
      'span',
      {
        class: 'chip cost',
        'data-testid': 'meta-cost',
        title: noModel
          ? 'Marginal AWS cost of this reply: API Gateway, Lambda, SQS, DynamoDB and logs; no SageMaker time'
          : 'Marginal AWS cost of this reply',
      },
      formatUsd(row.totalUsd),
    ),
    sourceLabel ? node('span', { class: 'chip', 'data-testid': 'meta-source' }, sourceLabel) : null,
    costDetails(row),
  );
}

/** The question as quoted above a reply: the masked form when the model was sent that. */
export function quote(question) {
  if (!question) return null;
  const masked = question.answer?.piiMaskedForModel === true;
  return node(
    'blockquote',
    {
      class: 'quote',
      'data-testid': 'reply-quote',
      'data-masked': masked ? 'true' : null,
      title: masked ? 'The question as the model saw it, with personal data masked' : null,
    },
    masked ? question.answer.storedQuestion : question.text,
  );
}
