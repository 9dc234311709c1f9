// The sign-in page's script. No build step: plain JS against the server's own API.
// Two ways in: the password form (an HttpOnly session cookie set by /auth/login; unsafe
// requests echo the CSRF cookie in a header) and "Sign in with Microsoft" (MSAL.js,
// served by this server, gets an access token for the API that goes out as Bearer).
'use strict';

const MSAL_SRC = document.currentScript.dataset.msal;
const $ = (id) => document.getElementById(id);
const csrf = () => (document.cookie.split('; ').find((c) => c.startsWith('erp_csrf=')) || '').slice(9);

// Renew this long before the access token expires; MSAL itself renews silently when a
// cached token is within its own offset (5 min) of expiry.
const RENEW_BEFORE_MS = 60_000;

const state = { mode: null, msal: null, cfg: null, token: null, renewTimer: null };

function say(message) { $('error').textContent = message; }
function status(message) { $('status').textContent = message; }

function show(signedIn, { focus = false } = {}) {
  $('signed-out').classList.toggle('hidden', signedIn);
  $('signed-in').classList.toggle('hidden', !signedIn);
  if (focus) (signedIn ? $('signed-in-heading') : $('username')).focus();
}

function render(me) {
  $('display-name').textContent = me.display_name || me.username;
  $('username-shown').textContent = me.username;
  $('roles').replaceChildren(...me.roles.map((r) => Object.assign(document.createElement('span'), { textContent: r })));
}

async function problemDetail(res) {
  const problem = await res.json().catch(() => ({}));
  return problem.detail || problem.title || `HTTP ${res.status}`;
}

// The cookie session, if any.
async function refreshMe({ focus = false } = {}) {
  const res = await fetch('/auth/me', { credentials: 'same-origin' });
  if (!res.ok) { show(false); return false; }
  render(await res.json());
  state.mode = 'password';
  show(true, { focus });
  return true;
}

// ---- Microsoft (MSAL.js) ----

function loadMsal() {
  if (window.msal) return Promise.resolve();
  return new Promise((ok, fail) => {
    const s = Object.assign(document.createElement('script'), { src: MSAL_SRC, onload: ok, onerror: () => fail(new Error('msal_load_failed')) });
    document.head.append(s);
  });
}

// Errors in words: what happened and what to do.
function msalErrorText(e) {
  const code = (e && (e.errorCode || e.error)) || '';
  const text = `${code} ${(e && (e.errorMessage || e.message)) || ''}`;
  if (code === 'user_cancelled') return 'Microsoft sign-in was cancelled.';
  if (code === 'access_denied' || code === 'consent_required' || /AADSTS65004|declined|consent/i.test(text)) {
    return 'You did not give the ERP consent to sign you in; sign in again and accept, or ask your administrator to consent for your organisation.';
  }
  if (/endpoints_resolution_error|no_network_connectivity|post_request_failed|network|timed_out|monitor_window_timeout|msal_load_failed|fetch/i.test(text)) {
    return 'The Microsoft directory cannot be reached right now; check your connection and try again.';
  }
  return `Microsoft sign-in failed (${code || 'unknown error'}).`;
}

async function msalApp(cfg) {
  if (state.msal) return state.msal;
  await loadMsal();
  const app = new msal.PublicClientApplication({
    auth: {
      clientId: cfg.client_id,
      authority: cfg.authority,
      knownAuthorities: cfg.known_authorities,
      protocolMode: cfg.protocol_mode === 'OIDC' ? msal.ProtocolMode.OIDC : msal.ProtocolMode.AAD,
      redirectUri: `${location.origin}/auth/redirect.html`,
      postLogoutRedirectUri: `${location.origin}/`,
    },
    // Survives a reload of this tab, not the closing of the browser.
    cache: { cacheLocation: 'sessionStorage' },
  });
  await app.initialize();
  state.msal = app;
  return app;
}

// A token for the API, from MSAL's cache or renewed silently; schedules the next renewal.
async function msalToken(account) {
  const result = await state.msal.acquireTokenSilent({ scopes: state.cfg.scopes, account });
  state.token = result.accessToken;
  clearTimeout(state.renewTimer);
  if (result.expiresOn) {
    const wait = Math.max(5_000, result.expiresOn.getTime() - Date.now() - RENEW_BEFORE_MS);
    state.renewTimer = setTimeout(() => msalToken(account).catch((e) => say(msalErrorText(e))), wait);
  }
  return result.accessToken;
}

async function msalSignedIn(account, { focus = false } = {}) {
  state.msal.setActiveAccount(account);
  const token = await msalToken(account);
  const res = await fetch('/auth/me', { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) {
    const detail = await problemDetail(res);
    await state.msal.clearCache({ account }).catch(() => {});
    clearTimeout(state.renewTimer);
    state.token = null;
    if (res.status === 403) say(`Your Microsoft account is not set up in this ERP (${detail}); ask an administrator to add you.`);
    else if (res.status === 503) say('The Microsoft directory cannot be reached by the ERP right now; try again in a few minutes.');
    else say(`The ERP did not accept the Microsoft sign-in: ${detail}`);
    show(false, { focus });
    return;
  }
  render(await res.json());
  state.mode = 'msal';
  status('');
  show(true, { focus });
}

async function signInWithMicrosoft() {
  say('');
  status('Signing in with Microsoft…');
  const request = { scopes: state.cfg.scopes };
  let result;
  try {
    result = await state.msal.loginPopup(request);
  } catch (e) {
    if (e.errorCode === 'popup_window_error' || e.errorCode === 'empty_window_error') {
      // Popups blocked: the whole page goes to the directory and comes back.
      await state.msal.loginRedirect(request);
      return;
    }
    throw e;
  }
  await msalSignedIn(result.account, { focus: true });
}

async function setUpMicrosoft(cfg) {
  state.cfg = cfg;
  const button = $('msal-login');
  button.classList.remove('hidden');
  button.addEventListener('click', () => {
    signInWithMicrosoft().catch((e) => { status(''); say(msalErrorText(e)); });
  });
  const app = await msalApp(cfg);
  // Back from a full-page redirect, or a reload with MSAL's cache in this tab.
  const back = await app.handleRedirectPromise();
  const account = (back && back.account) || app.getActiveAccount() || app.getAllAccounts()[0];
  if (account && state.mode !== 'password') await msalSignedIn(account, { focus: Boolean(back) });
}

// ---- both ----

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  say('');
  const res = await fetch('/auth/login', {
    method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: $('username').value, password: $('password').value }),
  });
  if (!res.ok) {
    say((await problemDetail(res)) || 'Sign-in failed');
    return;
  }
  $('password').value = '';
  await refreshMe({ focus: true });
});

$('logout').addEventListener('click', async () => {
  say('');
  if (state.mode === 'msal') {
    // The server revokes the access token itself (it stays valid at Microsoft until it
    // expires), then MSAL forgets the account in this tab.
    const res = await fetch('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${state.token}` } });
    if (!res.ok && res.status !== 401) say(`Signing out on the server failed: ${await problemDetail(res)}`);
    clearTimeout(state.renewTimer);
    state.token = null;
    await state.msal.clearCache().catch(() => {});
    state.mode = null;
    show(false, { focus: true });
    status('Signed out.');
    return;
  }
  await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'x-csrf-token': csrf() } });
  state.mode = null;
  if (!(await refreshMe())) { show(false, { focus: true }); status('Signed out.'); }
});

(async () => {
  const [, cfg] = await Promise.all([
    refreshMe(),
    fetch('/auth/config').then((r) => r.json()).catch(() => ({})),
  ]);
  if (cfg.msal && cfg.msal.enabled) await setUpMicrosoft(cfg.msal);
})().catch((e) => say(msalErrorText(e)));
