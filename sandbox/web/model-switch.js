import { node } from './dom.js';
import { explainFailure, requestJson } from './sandbox-client.js';

/**
 * The header control of the primary model (issue 16, offline mode): its state, a button that takes it down or brings
 * it back, and the backup model that answers meanwhile.
 * - GET /_sandbox/model → { primary: { modelId, state: 'up'|'down', … }, fallback: { state: 'up', modelId, … } | { state: 'off' } }
 * - POST /_sandbox/model/primary { state: 'down'|'up' } → the same, after the switch
 * Taking the primary down does not stop it: its calls fail as an unreachable endpoint's would, so the worker's retries,
 * circuit breaker and fallback run as in an outage.
 */

/** Someone else (curl, a test, another tab) may flip the switch: the state is re-read this often. */
const REFRESH_MS = 3000;

/** What replies are while the primary is down, in the words of the page. */
function whileDown(fallback) {
  return fallback.state === 'up'
    ? `Replies come from the backup model ${fallback.modelId}.`
    : 'No backup model is running (FALLBACK_MODEL=off): every reply is the "model unavailable" apology.';
}

const errorLine = (text) =>
  node('span', { class: 'switch-error', role: 'alert', 'data-testid': 'model-switch-error' }, text);

/**
 * Renders the control into `container` and keeps it current; `onModels(view)` is called with every view read, so the
 * conversation can label replies with the model that wrote them.
 */
export function startModelSwitch(container, onModels) {
  let models = null;
  let busy = false;
  let problem = '';

  /** What is shown; the control is redrawn only when it changes, so its live region speaks only of changes. */
  let shown = '';

  function render() {
    const view = models && {
      primary: [models.primary.modelId, models.primary.state, models.primary.target, models.primary.problem],
      fallback: [models.fallback.state, models.fallback.modelId, models.fallback.url],
    };
    const next = JSON.stringify([view, busy, problem]);
    if (next === shown) return;
    shown = next;
    container.hidden = models === null && !problem;
    if (models === null) {
      container.replaceChildren(...(problem ? [errorLine(problem)] : []));
      return;
    }
    const { primary, fallback } = models;
    const down = primary.state === 'down';
    const parts = [
      node(
        'span',
        {
          class: 'model-state',
          'data-testid': 'primary-state',
          'data-state': primary.state,
          title:
            (down
              ? `The primary model is down: its calls fail like an unreachable endpoint's. ${whileDown(fallback)}`
              : `The primary model ${primary.modelId} at ${primary.target}.`) +
            (primary.problem ? ` It did not answer GET /ping at start-up (${primary.problem}).` : ''),
        },
        `primary ${primary.modelId}: ${down ? 'down' : 'up'}`,
      ),
      node(
        'button',
        {
          type: 'button',
          class: 'switch-toggle',
          'data-testid': 'primary-toggle',
          'data-action': down ? 'up' : 'down',
          disabled: busy,
        },
        busy ? 'switching…' : down ? 'Bring primary up' : 'Take primary down',
      ),
      node(
        'span',
        {
          class: 'model-state backup',
          'data-testid': 'backup-state',
          'data-state': fallback.state,
          title:
            fallback.state === 'up'
              ? `The backup model answers when the primary cannot (${fallback.source} server at ${fallback.url}).`
              : 'No backup model (FALLBACK_MODEL=off).',
        },
        fallback.state === 'up' ? `backup ${fallback.modelId}` : 'no backup',
      ),
      down ? node('span', { class: 'switch-note', 'data-testid': 'primary-down-note' }, whileDown(fallback)) : null,
      problem ? errorLine(problem) : null,
    ];
    container.replaceChildren(...parts.filter(Boolean));
  }

  function apply(view) {
    models = view;
    problem = '';
    onModels(view);
    render();
  }

  async function refresh() {
    if (busy || document.visibilityState === 'hidden') return;
    try {
      apply(await requestJson('/_sandbox/model'));
    } catch (err) {
      // The connection banner already says when the sandbox is unreachable; keep the last state shown.
      if (models === null) {
        problem = `Model state unknown. ${explainFailure(err)}`;
        render();
      }
    }
  }

  container.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action]');
    if (!button || busy) return;
    busy = true;
    render();
    try {
      const view = await requestJson('/_sandbox/model/primary', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state: button.dataset.action }),
      });
      busy = false;
      apply(view);
    } catch (err) {
      busy = false;
      problem = `Could not switch the primary. ${explainFailure(err)}`;
      render();
    }
    container.querySelector('[data-testid="primary-toggle"]')?.focus();
  });

  refresh();
  setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', refresh);
}
