#!/usr/bin/env node
// Drives the REAL `connectycube` npm SDK's XMPP chat (websocket) against a running chatbridge.
// Same contract as sdk_driver.cjs: config JSON on stdin ({scenario, api_url, app_id, auth_key,
// chat_url, run_id}); prints one JSON document: {"ok": true, "result": {...}} or
// {"ok": false, "step", "error", "events"}. `events` (on failure) lists what each SDK listener saw.
'use strict';

const crypto = require('node:crypto');
const ConnectyCube = require('connectycube').default;

const PASSWORD = 'e2e-chat-password';
const WAIT_MS = 8000;
const cfg = JSON.parse(process.argv[2] || require('node:fs').readFileSync(0, 'utf8'));
let currentStep = 'init';
const log = [];

class StepError extends Error {
  constructor(step, cause) {
    super(`step "${step}" failed`);
    this.step = step;
    this.cause = cause;
  }
}

async function step(name, fn) {
  currentStep = name;
  try {
    return await fn();
  } catch (error) {
    throw new StepError(name, error);
  }
}

function errorToJson(error) {
  if (error instanceof Error) return { message: error.message, stack: (error.stack || '').split('\n').slice(0, 4) };
  if (error && typeof error === 'object') return JSON.parse(JSON.stringify(error));
  return { value: String(error) };
}

const LISTENERS = ['onMessageListener', 'onSystemMessageListener', 'onMessageTypingListener',
  'onMessageUpdateListener', 'onMessageDeleteListener', 'onMessageReactionsListener',
  'onDeliveredStatusListener', 'onReadStatusListener', 'onLastUserActivityListener',
  'onJoinOccupant', 'onLeaveOccupant', 'onKickOccupant', 'onMessageErrorListener',
  'onDisconnectedListener'];

// One app user: an SDK instance, a user session, and every chat listener recorded.
async function newUser(tag) {
  const cc = new ConnectyCube.ConnectyCube();
  cc.init({ appId: cfg.app_id, authKey: cfg.auth_key }, {
    endpoints: { api_url: cfg.api_url, chat: 'localhost', chat_url: cfg.chat_url },
    debug: { mode: 0 },
  });
  const login = `${cfg.run_id}_${tag}_${crypto.randomBytes(3).toString('hex')}`;
  await step(`${tag}: app session`, () => cc.createSession());
  await step(`${tag}: signup`, () => cc.users.signup({ login, password: PASSWORD }));
  const session = await step(`${tag}: user session`, () => cc.createSession({ login, password: PASSWORD }));
  const user = { tag, cc, id: session.user_id, token: session.token, events: [], waiters: [] };
  for (const name of LISTENERS) {
    cc.chat[name] = (...args) => {
      const event = { name, args: JSON.parse(JSON.stringify(args, (k, v) => (v === undefined ? null : v))) };
      user.events.push(event);
      log.push({ who: tag, ...event });
      for (const waiter of [...user.waiters]) waiter();
    };
  }
  return user;
}

// Resolves with the first recorded event matching `predicate(args)` for listener `name`.
function waitEvent(user, name, predicate = () => true, label = name) {
  return step(`${user.tag}: wait ${label}`, () => new Promise((resolve, reject) => {
    const check = () => {
      const found = user.events.find((e) => e.name === name && predicate(...e.args));
      if (found) {
        user.waiters = user.waiters.filter((w) => w !== check);
        clearTimeout(timer);
        resolve(found.args);
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => {
      user.waiters = user.waiters.filter((w) => w !== check);
      reject(new Error(`no ${label} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    if (!check()) user.waiters.push(check);
  }));
}

async function connect(user) {
  await step(`${user.tag}: chat.connect`, () => user.cc.chat.connect({ userId: user.id, password: user.token }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {};

// Sessions (issue 14 §7): a login from a new device (auth.login with a device id) reaches the
// connected device through onSystemMessageListener; ending the connected device's session from
// the new one (DELETE /sessions/{id}) disconnects its chat.
scenarios.sessions = async () => {
  const phone = await newUser('phone');
  await connect(phone);
  await sleep(300); // the presence reaches the bridge
  const laptop = new ConnectyCube.ConnectyCube();
  laptop.init({ appId: cfg.app_id, authKey: cfg.auth_key }, {
    endpoints: { api_url: cfg.api_url, chat: 'localhost', chat_url: cfg.chat_url }, debug: { mode: 0 } });
  await step('laptop: app session', () => laptop.createSession());
  const login = (await step('phone: getSession', () => phone.cc.getSession())).user.login;
  await step('laptop: auth.login', () => laptop.auth.login({ login, password: PASSWORD, udid: 'e2e-laptop' }));
  const [notice] = await waitEvent(phone, 'onSystemMessageListener',
                                   (m) => m.extension && m.extension.notification_type === 'new_login', 'new-login notice');
  const laptopToken = laptop.service.getSession().token;
  const listed = await step('laptop: GET /sessions', async () =>
    (await fetch(`${cfg.api_url}/sessions.json`, { headers: { 'CB-Token': laptopToken } })).json());
  const phoneSession = listed.items.find((item) => !item.current);
  const ended = await step('laptop: DELETE /sessions/{phone}', async () =>
    (await fetch(`${cfg.api_url}/sessions/${phoneSession.id}.json`,
                 { method: 'DELETE', headers: { 'CB-Token': laptopToken } })).status);
  await waitEvent(phone, 'onDisconnectedListener', () => true, 'disconnected');
  const connectedAfter = phone.cc.chat.isConnected;
  try { await phone.cc.chat.disconnect(); } catch (error) { /* already gone */ }
  return { phone: phone.id, notice, listed, phoneSession, ended, connectedAfter };
};

scenarios.private_chat = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  await connect(alice);
  await connect(bob);
  await sleep(300); // both presences reach the bridge
  const dialog = await step('private dialog', () => alice.cc.chat.dialog.create({ type: 3, occupants_ids: [bob.id] }));
  const extension = { save_to_history: 1, dialog_id: dialog._id, color: 'red' };
  const messageId = alice.cc.chat.send(bob.id, { type: 'chat', body: 'hello bob', extension });
  const [fromId, received] = await waitEvent(bob, 'onMessageListener', (uid, m) => m.id === messageId, 'message');
  // bob's SDK sends the delivered receipt by itself; he reads it explicitly
  const delivered = await waitEvent(alice, 'onDeliveredStatusListener', (id) => id === messageId, 'delivered');
  bob.cc.chat.sendReadStatus({ messageId, userId: alice.id, dialogId: dialog._id });
  const read = await waitEvent(alice, 'onReadStatusListener', (id) => id === messageId, 'read');
  alice.cc.chat.sendIsTypingStatus(bob.id);
  const typing = await waitEvent(bob, 'onMessageTypingListener', (t) => t === true, 'typing');
  alice.cc.chat.editMessage({ to: bob.id, dialogId: dialog._id, body: 'hello bob (edited)',
                              originMessageId: messageId, last: true });
  const edited = await waitEvent(bob, 'onMessageUpdateListener', (id) => id === messageId, 'edit');
  const systemId = alice.cc.chat.sendSystemMessage(bob.id, { body: 'sys', extension: { param1: 'v1' } });
  const [system] = await waitEvent(bob, 'onSystemMessageListener', (m) => m.id === systemId, 'system message');
  await step('bob reacts over REST', () => bob.cc.chat.message.addReaction(messageId, '👍'));
  const reaction = await waitEvent(alice, 'onMessageReactionsListener', (id) => id === messageId, 'reaction');
  const restMessage = await step('REST send_to_chat', () => alice.cc.chat.message.create({
    chat_dialog_id: dialog._id, message: 'via rest', send_to_chat: 1 }));
  const [, viaRest] = await waitEvent(bob, 'onMessageListener', (uid, m) => m.id === restMessage._id, 'REST message');
  const lastActivity = await step('last activity', () => alice.cc.chat.getLastUserActivity(bob.id));
  await step('REST delete force', () => alice.cc.chat.message.delete([restMessage._id], { force: 1 }));
  const deleted = await waitEvent(bob, 'onMessageDeleteListener', (id) => id === restMessage._id, 'delete');
  await sleep(200);
  const history = await step('history', () => bob.cc.chat.message.list({ chat_dialog_id: dialog._id, mark_as_read: 0 }));
  const dialogs = await step('dialogs', () => bob.cc.chat.dialog.list({ _id: dialog._id }));
  await step('alice disconnect', () => alice.cc.chat.disconnect());
  await step('bob disconnect', () => bob.cc.chat.disconnect());
  return { alice: alice.id, bob: bob.id, dialog, messageId, fromId, received, delivered, read, typing, edited,
           systemId, system, reaction, restMessage, viaRest, lastActivity, deleted, history, dialogs };
};

scenarios.group_chat = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const carol = await newUser('carol');
  await connect(alice);
  await connect(bob);
  await sleep(300);
  const dialog = await step('group dialog', () => alice.cc.chat.dialog.create({
    type: 2, name: 'e2e group', occupants_ids: [bob.id, carol.id] }));
  const joined = await step('bob joins', () => bob.cc.chat.muc.join(dialog._id));
  const online = await step('listOnlineUsers', () => bob.cc.chat.muc.listOnlineUsers(dialog._id));
  const messageId = alice.cc.chat.send(dialog._id, {
    type: 'groupchat', body: 'hello group', extension: { save_to_history: 1, dialog_id: dialog._id } });
  const [fromId, received] = await waitEvent(bob, 'onMessageListener', (uid, m) => m.id === messageId, 'group message');
  const [echoFrom] = await waitEvent(alice, 'onMessageListener', (uid, m) => m.id === messageId, 'echo');
  const delivered = await waitEvent(alice, 'onDeliveredStatusListener', (id) => id === messageId, 'delivered');
  bob.cc.chat.sendIsTypingStatus(dialog._id);
  const typing = await waitEvent(alice, 'onMessageTypingListener', (t, uid) => t === true && uid === bob.id, 'typing');
  const restMessage = await step('REST send_to_chat', () => alice.cc.chat.message.create({
    chat_dialog_id: dialog._id, message: 'group via rest', send_to_chat: 1 }));
  const [, viaRest] = await waitEvent(bob, 'onMessageListener', (uid, m) => m.id === restMessage._id, 'REST message');
  const left = await step('bob leaves', () => bob.cc.chat.muc.leave(dialog._id));
  await sleep(200);
  const history = await step('history', () => carol.cc.chat.message.list({ chat_dialog_id: dialog._id, mark_as_read: 0 }));
  await step('disconnect', () => Promise.all([alice.cc.chat.disconnect(), bob.cc.chat.disconnect()]));
  return { alice: alice.id, bob: bob.id, dialog, joined, online, messageId, fromId, received, echoFrom,
           delivered, typing, restMessage, viaRest, left, history };
};

// Conversation events (issue 15 §3): adding, removing and renaming reach the members through
// onSystemMessageListener (the removed one gets their own removal); an edit of attachments and
// custom parameters over REST (§7) reaches onMessageUpdateListener with them as its extension;
// the archive (§4) through REST.
scenarios.conversation_events = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const carol = await newUser('carol');
  const dave = await newUser('dave');
  for (const user of [alice, bob, carol, dave]) await connect(user);
  await sleep(300);
  const dialog = await step('group dialog', () => alice.cc.chat.dialog.create({
    type: 2, name: 'e2e events', occupants_ids: [bob.id, carol.id] }));
  const isNotice = (kind) => (m) => m.extension && m.extension.notification_type === kind
    && m.extension.dialog_id === dialog._id;
  await step('add dave', () => alice.cc.chat.dialog.update(dialog._id, { push_all: { occupants_ids: [dave.id] } }));
  const [added] = await waitEvent(bob, 'onSystemMessageListener', isNotice('occupants_added'), 'added');
  const [addedDave] = await waitEvent(dave, 'onSystemMessageListener', isNotice('occupants_added'), 'added (dave)');
  await step('rename and remove carol', () => alice.cc.chat.dialog.update(dialog._id, {
    name: 'e2e renamed', pull_all: { occupants_ids: [carol.id] } }));
  const [renamed] = await waitEvent(bob, 'onSystemMessageListener', isNotice('name_changed'), 'renamed');
  const [removed] = await waitEvent(carol, 'onSystemMessageListener', isNotice('occupants_removed'), 'removed');
  await sleep(300);
  const carolRenames = carol.events.filter((e) => e.name === 'onSystemMessageListener'
    && isNotice('name_changed')(...e.args)).length;
  const sent = await step('REST message', () => alice.cc.chat.message.create({
    chat_dialog_id: dialog._id, message: 'look', topic: 'old' }));
  await step('REST edit', () => alice.cc.chat.message.update(sent._id, {
    attachments: [{ type: 'image', uid: 'u1', size: 7 }], topic: 'new' }));
  const edited = await waitEvent(bob, 'onMessageUpdateListener', (id) => id === sent._id, 'edit');
  const archive = async (value) => (await fetch(`${cfg.api_url}/chat/Dialog/${dialog._id}/archive.json`, {
    method: 'PUT', headers: { 'CB-Token': bob.token, 'Content-Type': 'application/json' },
    body: JSON.stringify({ archived: value }) })).json();
  const archived = await step('archive', () => archive(1));
  const inArchive = await step('list archived', () => bob.cc.chat.dialog.list({ archived: 1 }));
  const outside = await step('list not archived', () => bob.cc.chat.dialog.list({ archived: 0 }));
  await step('disconnect', () => Promise.all([alice, bob, carol, dave].map((u) => u.cc.chat.disconnect())));
  return { alice: alice.id, bob: bob.id, carol: carol.id, dave: dave.id, dialog, added, addedDave,
           renamed, removed, carolRenames, sent, edited, archived, inArchive, outside };
};

// The SDK's privacy lists are the block list: REST sees it, it is enforced, the SDK reads it back.
scenarios.privacy_list = async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  await connect(alice);
  await connect(bob);
  await sleep(300);
  const blocklist = async () => {
    const answer = await fetch(`${cfg.api_url}/blocklist.json`, { headers: { 'CB-Token': alice.token } });
    const body = await answer.json();
    if (!body.items) throw new Error(`GET /blocklist answered ${answer.status} ${JSON.stringify(body)}`);
    return body.items.map((u) => u.id);
  };
  const privacy = alice.cc.chat.privacylist;
  await step('create', () => privacy.create({ name: 'blocklist', items: [{ user_id: bob.id, action: 'deny' }] }));
  const beforeDefault = await step('REST list before default', blocklist);
  await step('setAsDefault', () => privacy.setAsDefault('blocklist'));
  const blocked = await step('REST list', blocklist);
  const list = await step('getList', () => privacy.getList('blocklist'));
  const names = await step('getNames', () => privacy.getNames());
  const refusedId = bob.cc.chat.send(alice.id, { type: 'chat', body: 'blocked?', extension: { save_to_history: 1 } });
  const [errorId, error] = await waitEvent(bob, 'onMessageErrorListener', (id) => id === refusedId, 'message error');
  await step('update: allow bob', () => privacy.update({ name: 'blocklist', items: [{ user_id: bob.id, action: 'allow' }] }));
  const after = await step('REST list after update', blocklist);
  const againId = bob.cc.chat.send(alice.id, { type: 'chat', body: 'now?', extension: { save_to_history: 1 } });
  const [fromId] = await waitEvent(alice, 'onMessageListener', (uid, m) => m.id === againId, 'message after unblock');
  const refusedSeen = alice.events.some((e) => e.name === 'onMessageListener' && e.args[1].id === refusedId);
  await step('disconnect', () => Promise.all([alice.cc.chat.disconnect(), bob.cc.chat.disconnect()]));
  return { alice: alice.id, bob: bob.id, beforeDefault, blocked, list, names, errorId, error, after, fromId,
           refusedSeen };
};

async function main() {
  const run = scenarios[cfg.scenario];
  if (!run) {
    process.stdout.write(JSON.stringify({ ok: false, step: 'init', error: { message: `unknown scenario ${cfg.scenario}` } }));
    return 2;
  }
  try {
    const result = await run();
    process.stdout.write(JSON.stringify({ ok: true, scenario: cfg.scenario, result }));
    return 0;
  } catch (error) {
    const stepName = error instanceof StepError ? error.step : currentStep;
    const cause = error instanceof StepError ? error.cause : error;
    process.stdout.write(JSON.stringify({ ok: false, scenario: cfg.scenario, step: stepName,
                                          error: errorToJson(cause), events: log.slice(-20) }));
    return 1;
  }
}

main().then((code) => process.stdout.write('\n', () => process.exit(code)), (error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(3);
});
