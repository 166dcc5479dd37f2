// @ts-check
// The state of a page's data, shown in its #state banner and in body[data-state] (for tests and
// scripts): loading, empty (with what to send to fill it), stale (server unreachable, reconnecting
// with a countdown), unauthorised (with the ?access_token= hint), or ok. Plus the polling loop that
// drives it for pages that read the API.
import { ApiError, accessToken } from './api.js';
import { el } from './dom.js';
import { utc } from './format.js';

/** Longest wait between two attempts while the server is unreachable. */
const MAX_RETRY_MS = 30_000;

export class DataState {
  /** @param {HTMLElement} banner */
  constructor(banner) {
    this.banner = banner;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.ticker = null;
    /** @type {Date | null} */
    this.lastData = null;
  }

  /**
   * @param {'loading' | 'empty' | 'stale' | 'unauthorised' | 'ok'} name
   * @param {...(Node | string)} content
   */
  show(name, ...content) {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    document.body.dataset.state = name;
    this.banner.className = `state ${name}`;
    this.banner.hidden = name === 'ok';
    this.banner.replaceChildren(...content);
  }

  loading() {
    this.show('loading', 'Loading…');
  }

  /**
   * Nothing to show yet: says what would fill the page.
   * @param {string} what e.g. "No node has connected yet."
   * @param {string} [todo] what to send, e.g. a --telemetry-url
   */
  empty(what, todo) {
    this.show('empty', el('strong', {}, what), ...(todo ? [' ', el('span', {}, todo)] : []));
  }

  ok() {
    this.lastData = new Date();
    this.show('ok');
  }

  /**
   * The server cannot be reached; counts down to the next attempt.
   * @param {number} retryAt epoch ms
   */
  stale(retryAt) {
    const countdown = el('span', { class: 'countdown' });
    const tick = () => (countdown.textContent = `${Math.max(0, Math.ceil((retryAt - Date.now()) / 1000))} s`);
    tick();
    const since = this.lastData ? ` The data below is from ${utc(this.lastData)} UTC.` : '';
    this.show('stale', el('strong', {}, 'Server unreachable.'), ` Reconnecting in `, countdown, `…${since}`);
    this.ticker = setInterval(tick, 500);
  }

  unauthorised() {
    const example = `${location.pathname}?${new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(location.search)), access_token: '<API_TOKEN>' })}`.replace('%3CAPI_TOKEN%3E', '<API_TOKEN>');
    const told = accessToken() ? 'The access token in the address was refused.' : 'This server needs an access token.';
    this.show('unauthorised', el('strong', {}, told), ' Open the page as ', el('code', {}, example), ' (the server’s API_TOKEN).');
  }

  /**
   * Shows what a failed request means. Returns the delay before trying again, or null for never.
   * @param {unknown} error
   * @param {number} retryMs
   */
  failed(error, retryMs) {
    if (error instanceof ApiError && error.kind === 'unauthorised') {
      this.unauthorised();
      return null;
    }
    if (error instanceof ApiError && error.kind === 'unreachable') {
      this.stale(Date.now() + retryMs);
      return retryMs;
    }
    console.warn(error instanceof Error ? error.message : error);
    this.show('stale', el('strong', {}, 'The server answered with an error.'), ` ${error instanceof Error ? error.message : String(error)}`);
    return retryMs;
  }
}

/**
 * Calls `load` now and every `intervalMs`; while the server is unreachable, tries again with back-off and a
 * countdown; stops on an unauthorised answer. `load` shows its data (and calls state.ok() or state.empty()).
 * @param {DataState} state
 * @param {() => Promise<void>} load
 * @param {number} intervalMs
 * @returns {{ now(): void, stop(): void }}
 */
export function poll(state, load, intervalMs) {
  let retryMs = 1000;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let stopped = false;
  let running = false;
  /** Asked for while a call was running: run again as soon as it ends. */
  let again = false;
  const run = async () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    if (timer !== null) clearTimeout(timer);
    let next = intervalMs;
    try {
      await load();
      retryMs = 1000;
    } catch (error) {
      const wait = state.failed(error, retryMs);
      if (wait === null) {
        stopped = true;
        running = false;
        return;
      }
      next = wait;
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
    running = false;
    if (!stopped) timer = setTimeout(() => void run(), again ? 0 : next);
  };
  void run();
  return {
    now: () => void run(),
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}
