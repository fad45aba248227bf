#!/usr/bin/env node
// Drives the REAL `connectycube` npm SDK (pinned in package.json) against a running chatbridge.
//
// Usage: node sdk_driver.cjs '<json config>'   (or the JSON on stdin)
//   config: {scenario, api_url, app_id, auth_key, chat_url, run_id}
// Prints ONE JSON document on stdout:
//   success: {"ok": true, "scenario": ..., "result": {...}}                       exit 0
//   failure: {"ok": false, "scenario": ..., "step": ..., "error": {...}, "trace": [...]}  exit 1
// The trace lists the last REST requests/responses the SDK made (recorded through the SDK's own
// logRequest/logResponse hooks, which does not change what it sends) so a failure shows exactly
// what the SDK sent and what it got back. Each scenario creates its own users and is independent.
'use strict';

const crypto = require('node:crypto');
// The CommonJS build exports the ready-made instance as `default` (what `import ConnectyCube from
// 'connectycube'` gives an app); its class makes one more instance per simulated app user.
const ConnectyCube = require('connectycube').default;

const PASSWORD = 'e2e-password-1';

function readConfig() {
  const raw = process.argv[2] || require('node:fs').readFileSync(0, 'utf8');
  return JSON.parse(raw);
}

const cfg = readConfig();
const trace = [];
let currentStep = 'init';

class StepError extends Error {
  constructor(step, cause) {
    super(`step "${step}" failed`);
    this.step = step;
    this.cause = cause;
  }
}

function summarize(value, depth = 0) {
  if (value === undefined) return null;
  if (Buffer.isBuffer(value)) return `<Buffer ${value.length} bytes>`;
  if (typeof value === 'string') return value.length > 600 ? value.slice(0, 600) + '…' : value;
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => summarize(v, depth + 1));
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = summarize(v, depth + 1);
  return out;
}

// A new SDK instance = one app user's ConnectyCube object. All instances share the SDK's config
// singleton (same server), but each holds its own session.
function newSdk(label, on) {
  const cc = new ConnectyCube.ConnectyCube();
  const config = {
    endpoints: { api_url: cfg.api_url, chat: 'localhost', chat_url: cfg.chat_url },
    debug: { mode: 0 },
  };
  if (on) config.on = on;
  cc.init({ appId: cfg.app_id, authKey: cfg.auth_key }, config);
  cc.service.logRequest = (params, id) => {
    trace.push({ who: label, id, step: currentStep, request: `${params.type || 'GET'} ${params.url}`,
                 data: summarize(params.data) });
    if (trace.length > 40) trace.shift();
  };
  cc.service.logResponse = (body, id) => {
    trace.push({ who: label, id, step: currentStep, response: summarize(body) });
    if (trace.length > 40) trace.shift();
  };
  return cc;
}

async function step(name, fn) {
  currentStep = name;
  try {
    return await fn();
  } catch (error) {
    throw new StepError(name, error);
  }
}

// Runs a call that MUST fail; returns the SDK's rejection ({code, info}) for Python to assert on.
async function expectError(name, fn) {
  currentStep = name;
  let value;
  try {
    value = await fn();
  } catch (error) {
    return errorToJson(error);
  }
  throw new StepError(name, { message: 'expected an error, the call succeeded', value: summarize(value) });
}

function errorToJson(error) {
  if (error instanceof Error) return { message: error.message, stack: (error.stack || '').split('\n').slice(0, 4) };
  if (error && typeof error === 'object') return summarize(error);
  return { value: String(error) };
}

function uniqueLogin(tag) {
  return `${cfg.run_id}_${tag}_${crypto.randomBytes(3).toString('hex')}`;
}

// Signs up a user through an application session, then opens that user's session, as an app does.
async function newUser(tag, extra = {}) {
  const login = uniqueLogin(tag);
  const cc = newSdk(tag);
  await step(`${tag}: app session`, () => cc.createSession());
  const signup = await step(`${tag}: signup`, () =>
    cc.users.signup({ login, password: PASSWORD, full_name: `E2E ${tag}`, ...extra }));
  const session = await step(`${tag}: user session`, () => cc.createSession({ login, password: PASSWORD }));
  return { cc, login, id: session.user_id, session, signup };
}

// ---------------------------------------------------------------------------------------------
const scenarios = {};

scenarios.users = async () => {
  const alice = newSdk('alice');
  const aliceLogin = uniqueLogin('alice');
  const appSession = await step('app session', () => alice.createSession());
  const aliceSignup = await step('signup with app session', () =>
    alice.users.signup({ login: aliceLogin, password: PASSWORD, full_name: 'Alice E2E',
                         custom_data: '{"color":"red"}', tag_list: ['e2e', 'red'] }));

  // Sign-up WITHOUT any session: the SDK sends CB-AuthKey instead of CB-Token.
  const bob = newSdk('bob');
  const bobLogin = uniqueLogin('bob');
  const bobSignup = await step('signup with CB-AuthKey only', () =>
    bob.users.signup({ login: bobLogin, password: PASSWORD, full_name: 'Bob E2E' }));

  const session = await step('user session', () => alice.createSession({ login: aliceLogin, password: PASSWORD }));
  const gotSession = await step('getSession', () => alice.getSession());
  const aliceId = session.user_id;
  const bobId = bobSignup.user.id;

  const v2ByIds = await step('users.getV2 id[in]', () => alice.users.getV2({ id: { in: [aliceId, bobId] } }));
  const v2ByLogin = await step('users.getV2 login', () => alice.users.getV2({ login: bobLogin }));
  const legacyById = await step('users.get(id)', () => alice.users.get(bobId));
  const legacyByLogin = await step('users.get({login})', () => alice.users.get({ login: bobLogin }));
  const legacyByTags = await step('users.get({tags})', () => alice.users.get({ tags: ['red'], per_page: 100 }));
  const updated = await step('users.update', () =>
    alice.users.update({ full_name: 'Alice Renamed', custom_data: '{"color":"blue"}' }));
  const afterUpdate = await step('users.getV2 after update', () => alice.users.getV2({ id: aliceId }));

  const token = session.token;
  await step('destroySession', () => alice.destroySession());
  const localSessionAfterDestroy = alice.service.getSession();
  const probe = newSdk('probe');
  probe.setSession({ token });
  const destroyedTokenError = await expectError('getSession with destroyed token', () => probe.getSession());

  return { appSession, aliceSignup, bobSignup, session, gotSession, v2ByIds, v2ByLogin, legacyById, legacyByLogin,
           legacyByTags, updated, afterUpdate, localSessionAfterDestroy, destroyedTokenError, aliceLogin, bobLogin };
};

scenarios.session_expired = async () => {
  const login = uniqueLogin('exp');
  const calls = [];
  let giveUp = false;
  let cc;
  const on = {
    sessionExpired: (handleResponse, retry) => {
      calls.push({ giveUp });
      if (giveUp) {
        handleResponse();
        return;
      }
      // What an app does: open a new session, then replay the failed request with it.
      cc.createSession({ login, password: PASSWORD }).then((s) => retry(s), () => handleResponse());
    },
  };
  cc = newSdk('exp', on);
  await step('app session', () => cc.createSession());
  const signup = await step('signup', () => cc.users.signup({ login, password: PASSWORD, full_name: 'Expiring' }));

  const bogusToken = crypto.randomBytes(20).toString('hex');
  cc.setSession({ token: bogusToken });
  const retried = await step('getV2 with unknown token, retried by the hook', () => cc.users.getV2({ login }));
  const tokenAfterRetry = cc.service.getSession().token;
  const callsAfterRetry = calls.length;

  giveUp = true;
  cc.setSession({ token: crypto.randomBytes(20).toString('hex') });
  const rejected = await expectError('getV2 with unknown token, hook gives up', () => cc.users.getV2({ login }));

  return { signup, retried, bogusToken, tokenAfterRetry, callsAfterRetry, calls, rejected };
};

scenarios.errors = async () => {
  const alice = await newUser('alice');
  const unknownToken = newSdk('unknown');
  unknownToken.setSession({ token: crypto.randomBytes(20).toString('hex') });
  const badToken = await expectError('unknown token', () => unknownToken.users.getV2({ login: alice.login }));

  const fresh = newSdk('fresh');
  const wrongPassword = await expectError('wrong password', () =>
    fresh.createSession({ login: alice.login, password: 'not-the-password' }));
  const wrongAuthKey = await (async () => {
    // Same SDK, other credentials: the key is read from the shared config at call time.
    const saved = fresh.service.sdkInstance.config.creds.authKey;
    fresh.service.sdkInstance.config.creds.authKey = 'definitely-not-the-key';
    try {
      return await expectError('wrong auth key', () => fresh.createSession());
    } finally {
      fresh.service.sdkInstance.config.creds.authKey = saved;
    }
  })();
  await step('app session', () => fresh.createSession());
  const duplicateLogin = await expectError('duplicate signup', () =>
    fresh.users.signup({ login: alice.login, password: PASSWORD }));
  const missingDialog = await expectError('update unknown dialog', () =>
    alice.cc.chat.dialog.update('0123456789abcdef01234567', { name: 'nope' }));
  const badDialogId = await expectError('list messages of a malformed dialog id', () =>
    alice.cc.chat.message.list({ chat_dialog_id: 'not-an-id' }));
  return { badToken, wrongPassword, wrongAuthKey, duplicateLogin, missingDialog, badDialogId };
};

scenarios.dialogs = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const carol = await newUser('carol');
  const dave = await newUser('dave');

  const priv = await step('create private dialog', () =>
    alice.cc.chat.dialog.create({ type: 3, occupants_ids: [bob.id] }));
  const privAgain = await step('create the same private dialog again', () =>
    alice.cc.chat.dialog.create({ type: 3, occupants_ids: [bob.id] }));
  const group = await step('create group dialog', () =>
    alice.cc.chat.dialog.create({ type: 2, name: 'E2E group', description: 'made by the SDK',
                                  occupants_ids: [bob.id, carol.id] }));

  const aliceList = await step('alice dialog.list', () => alice.cc.chat.dialog.list({ sort_desc: 'created_at' }));
  const aliceGroups = await step('alice dialog.list type=2', () => alice.cc.chat.dialog.list({ type: 2 }));
  const aliceTypeIn = await step('alice dialog.list type[in]', () => alice.cc.chat.dialog.list({ type: { in: [2, 3] } }));
  const aliceCount = await step('alice dialog.list count=1', () => alice.cc.chat.dialog.list({ count: 1 }));
  const alicePage = await step('alice dialog.list limit=1', () =>
    alice.cc.chat.dialog.list({ limit: 1, skip: 0, sort_desc: 'created_at' }));

  const renamed = await step('update name + push_all occupants', () =>
    alice.cc.chat.dialog.update(group._id, { name: 'E2E renamed', push_all: { occupants_ids: [dave.id] } }));
  const pulled = await step('update pull_all occupants', () =>
    alice.cc.chat.dialog.update(group._id, { pull_all: { occupants_ids: [carol.id] } }));
  const withAdmin = await step('addAdmins', () => alice.cc.chat.dialog.addAdmins(group._id, [bob.id]));
  const byAdmin = await step('admin bob renames', () =>
    bob.cc.chat.dialog.update(group._id, { description: 'edited by admin bob' }));

  const notifOff = await step('bob notifications off', () =>
    bob.cc.chat.dialog.updateNotificationsSettings(group._id, false));
  const notifBob = await step('bob get notifications', () => bob.cc.chat.dialog.getNotificationsSettings(group._id));
  const notifAlice = await step('alice get notifications', () =>
    alice.cc.chat.dialog.getNotificationsSettings(group._id));

  const bobList = await step('bob dialog.list', () => bob.cc.chat.dialog.list());
  const carolList = await step('carol dialog.list (removed)', () => carol.cc.chat.dialog.list());
  const daveList = await step('dave dialog.list (added)', () => dave.cc.chat.dialog.list());
  const carolUpdate = await expectError('removed carol updates the group', () =>
    carol.cc.chat.dialog.update(group._id, { name: 'hijack' }));
  const daveUpdate = await expectError('plain member dave adds an admin', () =>
    dave.cc.chat.dialog.addAdmins(group._id, [dave.id]));

  const spareA = await step('create spare dialog A', () =>
    alice.cc.chat.dialog.create({ type: 2, name: 'spare A', occupants_ids: [bob.id] }));
  const spareB = await step('create spare dialog B', () =>
    alice.cc.chat.dialog.create({ type: 2, name: 'spare B', occupants_ids: [bob.id] }));
  const bulkDeleted = await step('delete two dialogs + an unknown id with force (JSON response)', () =>
    alice.cc.chat.dialog.delete([spareA._id, spareB._id, '0123456789abcdef01234567'], { force: 1 }));
  const bobAfterBulk = await step('bob dialog.list after forced delete', () => bob.cc.chat.dialog.list());
  const withoutAdmin = await step('removeAdmins', () => alice.cc.chat.dialog.removeAdmins(group._id, [bob.id]));

  const deleted = await step('alice deletes the private dialog (one id: text response)', () =>
    alice.cc.chat.dialog.delete(priv._id));
  const aliceListAfter = await step('alice dialog.list after delete', () => alice.cc.chat.dialog.list());
  const bobListAfterDelete = await step('bob dialog.list after alice deleted', () => bob.cc.chat.dialog.list());

  return { ids: { alice: alice.id, bob: bob.id, carol: carol.id, dave: dave.id }, priv, privAgain, group,
           aliceList, aliceGroups, aliceTypeIn, aliceCount, alicePage, renamed, pulled, withAdmin, byAdmin,
           notifOff, notifBob, notifAlice, bobList, carolList, daveList, carolUpdate, daveUpdate, spareA, spareB,
           bulkDeleted, bobAfterBulk, withoutAdmin, deleted,
           aliceListAfter, bobListAfterDelete };
};

scenarios.messages = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const tag = crypto.randomBytes(4).toString('hex');
  const group = await step('create group dialog', () =>
    alice.cc.chat.dialog.create({ type: 2, name: `msgs ${tag}`, occupants_ids: [bob.id] }));
  const d = group._id;

  const m1 = await step('create m1', () =>
    alice.cc.chat.message.create({ chat_dialog_id: d, message: `hello ${tag} one` }));
  const m2 = await step('create m2 (custom key)', () =>
    alice.cc.chat.message.create({ chat_dialog_id: d, message: `second ${tag}`, mood: 'happy' }));
  const m3 = await step('create m3 (attachment)', () =>
    alice.cc.chat.message.create({ chat_dialog_id: d, message: `third ${tag} zebra`,
                                    attachments: [{ type: 'image', uid: 'abc123', name: 'p.png' }] }));
  const bobReply = await step('bob replies', () =>
    bob.cc.chat.message.create({ chat_dialog_id: d, message: `reply ${tag}` }));

  const direct = await step('alice writes to bob by recipient_id (no dialog yet)', () =>
    alice.cc.chat.message.create({ recipient_id: bob.id, message: `direct ${tag}` }));
  const bobDirect = await step('bob reads the direct dialog history', () =>
    bob.cc.chat.message.list({ chat_dialog_id: direct.chat_dialog_id, mark_as_read: 0 }));

  const bobHistory = await step('bob message.list mark_as_read=0', () =>
    bob.cc.chat.message.list({ chat_dialog_id: d, sort_asc: 'date_sent', mark_as_read: 0 }));
  const bobHistoryDesc = await step('bob message.list sort_desc limit=2', () =>
    bob.cc.chat.message.list({ chat_dialog_id: d, sort_desc: 'date_sent', limit: 2, mark_as_read: 0 }));
  const unreadBefore = await step('bob unreadCount', () => bob.cc.chat.message.unreadCount({ chat_dialog_ids: [d] }));
  const bobDialogBefore = await step('bob dialog.list before read', () => bob.cc.chat.dialog.list());

  const readResult = await step('bob marks m1 read', () =>
    bob.cc.chat.message.update(m1._id, { chat_dialog_id: d, read: 1 }));
  const unreadAfter = await step('bob unreadCount after read', () =>
    bob.cc.chat.message.unreadCount({ chat_dialog_ids: [d] }));
  const unreadAll = await step('bob unreadCount (all dialogs)', () => bob.cc.chat.message.unreadCount());

  const reactBob = await step('bob reacts 👍 to m2', () => bob.cc.chat.message.addReaction(m2._id, '👍'));
  const reactAlice = await step('alice reacts 👍 to m2', () => alice.cc.chat.message.addReaction(m2._id, '👍'));
  const reactAlice2 = await step('alice reacts 🔥 to m1', () => alice.cc.chat.message.addReaction(m1._id, '🔥'));
  const reactionsM1 = await step('listReactions m1', () => bob.cc.chat.message.listReactions(m1._id));
  const unreact = await step('alice removes 🔥 from m1', () => alice.cc.chat.message.removeReaction(m1._id, '🔥'));
  const reactions = await step('listReactions m2', () => alice.cc.chat.message.listReactions(m2._id));
  const reactionsM1After = await step('listReactions m1 after removal', () =>
    alice.cc.chat.message.listReactions(m1._id));

  const search = await step('chat.search', () =>
    alice.cc.chat.search({ search_text: `zebra`, chat_dialog_ids: [d] }));

  const editResult = await step('alice edits m1', () =>
    alice.cc.chat.message.update(m1._id, { chat_dialog_id: d, message: `hello ${tag} edited` }));
  const deleteForce = await step('alice deletes m3 for everyone', () =>
    alice.cc.chat.message.delete(m3._id, { force: 1 }));
  const deleteOwn = await step('bob deletes m1 for himself', () => bob.cc.chat.message.delete(m1._id));
  const bobForceOther = await step('bob force-deletes alice m2 (not his: only for himself or refused)', () =>
    bob.cc.chat.message.delete([m2._id], { force: 1 }).catch((e) => ({ rejected: errorToJson(e) })));

  const aliceAfter = await step('alice message.list after deletes', () =>
    alice.cc.chat.message.list({ chat_dialog_id: d, sort_asc: 'date_sent' }));
  const bobAfter = await step('bob message.list after deletes (marks read)', () =>
    bob.cc.chat.message.list({ chat_dialog_id: d, sort_asc: 'date_sent' }));
  const unreadFinal = await step('bob unreadCount after list', () =>
    bob.cc.chat.message.unreadCount({ chat_dialog_ids: [d] }));

  return { tag, ids: { alice: alice.id, bob: bob.id }, dialog: group, m1, m2, m3, bobReply, direct, bobDirect, bobHistory,
           bobHistoryDesc, unreadBefore, bobDialogBefore, readResult, unreadAfter, unreadAll, reactBob, reactAlice,
           reactAlice2, reactionsM1, unreact, reactions, reactionsM1After, search, editResult, deleteForce, deleteOwn, bobForceOther, aliceAfter,
           bobAfter, unreadFinal, tokens: [alice.session.token, bob.session.token] };
};

// Produces secrets the server must never write to its INFO log: tokens, a password, a message body.
scenarios.log_probe = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const secretBody = `secret-body-${crypto.randomBytes(8).toString('hex')}`;
  const dialog = await step('create private dialog', () =>
    alice.cc.chat.dialog.create({ type: 3, occupants_ids: [bob.id] }));
  const message = await step('create message', () =>
    alice.cc.chat.message.create({ chat_dialog_id: dialog._id, message: secretBody }));
  const wrong = await expectError('wrong password', () =>
    newSdk('x').createSession({ login: alice.login, password: 'wrong-secret-password-77' }));
  return { secrets: [alice.session.token, bob.session.token, PASSWORD, 'wrong-secret-password-77', secretBody],
           message, wrong };
};

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

async function download(url) {
  const resp = await fetch(url);
  const bytes = Buffer.from(await resp.arrayBuffer());
  return { status: resp.status, length: bytes.length, sha256: sha256(bytes),
           content_type: resp.headers.get('content-type') };
}

scenarios.blobs = async () => {
  const alice = await newUser('alice');
  // 200 KiB of bytes that are not valid UTF-8, so any text re-encoding on the way would show.
  const payload = crypto.randomBytes(200 * 1024);
  const blob = await step('createAndUpload private (Buffer)', () =>
    alice.cc.storage.createAndUpload({ name: 'e2e.bin', file: payload, type: 'application/octet-stream',
                                       size: payload.length, public: false }));
  const info = await step('getInfo', () => alice.cc.storage.getInfo(blob.id));
  const privateUrl = alice.cc.storage.privateUrl(blob.uid);
  const viaPrivateUrl = await step('download privateUrl', () => download(privateUrl));
  const withoutToken = await step('download without token', () => download(alice.cc.storage.publicUrl(blob.uid)));

  const text = Buffer.from(`public hello ${crypto.randomBytes(4).toString('hex')}\n`, 'utf8');
  const pub = await step('createAndUpload public', () =>
    alice.cc.storage.createAndUpload({ name: 'hello.txt', file: text, type: 'text/plain', size: text.length }));
  const pubInfo = await step('getInfo public', () => alice.cc.storage.getInfo(pub.id));
  const viaPublicUrl = await step('download publicUrl (no token)', () => download(alice.cc.storage.publicUrl(pub.uid)));

  const byUid = await step('getFile by uid', () => alice.cc.storage.getFile(blob.uid));
  const listed = await step('storage.list', () => alice.cc.storage.list({ per_page: 10 }));
  const deleted = await step('storage.delete public blob', () => alice.cc.storage.delete(pub.id));
  const infoAfterDelete = await expectError('getInfo deleted blob', () => alice.cc.storage.getInfo(pub.id));
  const downloadAfterDelete = await step('download deleted blob', () => download(alice.cc.storage.publicUrl(pub.uid)));

  return { payload: { length: payload.length, sha256: sha256(payload) }, blob, info, privateUrl, viaPrivateUrl,
           withoutToken, text: { length: text.length, sha256: sha256(text) }, pub, pubInfo, viaPublicUrl,
           byUid, listed, deleted, infoAfterDelete, downloadAfterDelete, token: alice.session.token };
};

// Address books (ConnectyCube.addressbook): per-device and global books, rejections, force,
// destroy, and the registered users matched by phone. Phones are unique to this run.
scenarios.address_book = async () => {
  const digits = String(crypto.randomInt(1000000, 9999999));
  const bobPhone = `1555${digits}`;
  const carolPhone = `+44 20 ${digits}`;
  const alice = await newUser('abA');
  const bob = await newUser('abB', { phone: bobPhone });
  const carol = await newUser('abC', { phone: carolPhone });
  const ab = alice.cc.addressbook;
  const deviceUpload = await step('upload to a device book', () => ab.uploadAddressBook([
    { name: 'Bob', phone: `+1 (555) ${digits.slice(0, 3)}-${digits.slice(3)}` },
    { name: 'Short', phone: '123' },
    { name: 'Carol', phone: `0044 20 ${digits}` },
  ], { udid: 'e2e-device' }));
  const globalUpload = await step('upload to the global book', () =>
    ab.uploadAddressBook([{ name: 'Bobby', phone: bobPhone }]));
  const deviceBook = await step('get the device book', () => ab.get('e2e-device'));
  const globalBook = await step('get the global book', () => ab.get());
  const compact = await step('registered users (device, compact)', () =>
    ab.getRegisteredUsers({ udid: 'e2e-device', compact: 1 }));
  const full = await step('registered users (global, full)', () => ab.getRegisteredUsers(false));
  const renamed = await step('rename in the device book', () =>
    ab.uploadAddressBook([{ name: 'Bob B', phone: bobPhone }], { udid: 'e2e-device' }));
  const destroyed = await step('destroy from the global book', () =>
    ab.uploadAddressBook([{ phone: bobPhone, destroy: 1 }]));
  const forced = await step('force an empty device book', () =>
    ab.uploadAddressBook([], { udid: 'e2e-device', force: 1 }));
  const deviceAfter = await step('get the device book again', () => ab.get('e2e-device'));
  const tooLong = await expectError('a udid too long', () =>
    ab.uploadAddressBook([], { udid: 'u'.repeat(65) }));
  return { bobId: bob.id, carolId: carol.id, bobPhone, digits, deviceUpload, globalUpload,
           deviceBook, globalBook, compact, full, renamed, destroyed, forced, deviceAfter, tooLong };
};

// Refresh tokens and the list of sessions (issue 14 §6, §7): what the SDK hands the app from
// createSession carries them; the refresh itself is a plain HTTP call (the SDK has none), and the
// session it answers works in the SDK (setSession) like any token. auth.login passes a device id.
scenarios.refresh = async () => {
  const alice = await newUser('refresh');
  const stored = alice.cc.service.getSession();
  const answer = await step('POST /session/refresh', async () => {
    const response = await fetch(`${cfg.api_url}/session/refresh.json`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: alice.session.refresh_token }) });
    return { status: response.status, body: await response.json() };
  });
  const fresh = newSdk('refreshed');
  fresh.setSession({ token: answer.body.session.token, user_id: answer.body.session.user_id });
  const gotSession = await step('getSession with the refreshed token', () => fresh.getSession());
  const oldTokenError = await expectError('getSession with the rotated token', () => alice.cc.getSession());
  // an application session upgraded by auth.login, with a device id
  const tablet = newSdk('tablet');
  await step('tablet: app session', () => tablet.createSession());
  await step('tablet: auth.login', () =>
    tablet.auth.login({ login: alice.login, password: PASSWORD, udid: 'e2e-tablet', platform: 'web' }));
  const listed = await step('GET /sessions', async () => {
    const response = await fetch(`${cfg.api_url}/sessions.json`, {
      headers: { 'CB-Token': tablet.service.getSession().token } });
    return response.json();
  });
  return { session: alice.session, stored: { refresh_token: stored.refresh_token,
           token_expiration: stored.token_expiration }, answer, gotSession, oldTokenError, listed };
};

// ---------------------------------------------------------------------------------------------
async function main() {
  const run = scenarios[cfg.scenario];
  if (!run) {
    process.stdout.write(JSON.stringify({ ok: false, scenario: cfg.scenario, step: 'init',
                                          error: { message: `unknown scenario; known: ${Object.keys(scenarios)}` } }));
    return 2;
  }
  try {
    const result = await run();
    process.stdout.write(JSON.stringify({ ok: true, scenario: cfg.scenario, result }));
    return 0;
  } catch (error) {
    const step = error instanceof StepError ? error.step : currentStep;
    const cause = error instanceof StepError ? error.cause : error;
    process.stdout.write(JSON.stringify({ ok: false, scenario: cfg.scenario, step, error: errorToJson(cause),
                                          trace: trace.slice(-8) }));
    return 1;
  }
}

main().then((code) => process.stdout.write('\n', () => process.exit(code)), (error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(3);
});
