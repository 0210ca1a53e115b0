// An independent ActivityPub test peer built on Fedify, for Rathaus's
// integration tests.  It listens on loopback only, keeps everything in memory
// and is driven over a small JSON control API under /_test/ (see README.md).
//
//   PORT=39101 PEER_USER=alice node peer.mjs
//
// Environment:
//   PORT               (required) TCP port; the server binds 127.0.0.1:PORT and
//                      its origin is http://localhost:PORT
//   PEER_USER          actor name (default "alice")
//   PEER_FIRST_KNOCK   "rfc9421" (default) or "cavage": which HTTP signature
//                      scheme Fedify tries first on outgoing POSTs/GETs
//   PEER_SIGNED_FETCH  "1" (default): fetch remote documents (actors, keys)
//                      with signed GETs; "0": plain unsigned GETs
//   PEER_LOG           Fedify log level on stderr: "debug", "info",
//                      "warning", "error" (default) or "off"
//   PEER_LOG_HTTP      "1": print every incoming request and its headers to
//                      stderr
//
// Stdout carries exactly one line, "ready http://localhost:PORT", printed once
// the server listens.  Everything else goes to stderr.

import http from "node:http";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { Temporal } from "@js-temporal/polyfill";
import { configure, defaultTextFormatter } from "@logtape/logtape";
import { createFederation, MemoryKvStore } from "@fedify/fedify";
import {
  Accept,
  Activity,
  Create,
  Delete,
  Endpoints,
  Flag,
  Follow,
  isActor,
  Mention,
  Note,
  Object as APObject,
  Person,
  PUBLIC_COLLECTION,
  Reject,
  Tombstone,
  Undo,
  Update,
} from "@fedify/vocab";

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

function fail(message) {
  process.stderr.write(`fedify-peer: ${message}\n`);
  process.exit(2);
}

const PORT = Number.parseInt(process.env.PORT ?? "", 10);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  fail("PORT must be set to a TCP port number");
}
const USER = process.env.PEER_USER || "alice";
if (!/^[A-Za-z0-9_]+$/.test(USER)) {
  fail("PEER_USER may only contain letters, digits and underscores");
}
const FIRST_KNOCK = (() => {
  const v = (process.env.PEER_FIRST_KNOCK || "rfc9421").toLowerCase();
  if (v === "rfc9421") return "rfc9421";
  if (v === "cavage" || v === "draft-cavage-http-signatures-12") {
    return "draft-cavage-http-signatures-12";
  }
  fail(`PEER_FIRST_KNOCK must be "rfc9421" or "cavage", not ${v}`);
})();
const SIGNED_FETCH = (process.env.PEER_SIGNED_FETCH ?? "1") !== "0";
const LOG_LEVEL = (process.env.PEER_LOG || "error").toLowerCase();
if (!["trace", "debug", "info", "warning", "error", "fatal", "off"].includes(LOG_LEVEL)) {
  fail(`PEER_LOG must be one of debug, info, warning, error, off, not ${LOG_LEVEL}`);
}
const LOG_HTTP = process.env.PEER_LOG_HTTP === "1";

const ORIGIN = `http://localhost:${PORT}`;
const DISPLAY_NAME = `${USER.charAt(0).toUpperCase()}${USER.slice(1)} Peer`;

function logErr(message) {
  process.stderr.write(`[fedify-peer ${USER}] ${message}\n`);
}

if (LOG_LEVEL !== "off") {
  const stderrSink = (record) => process.stderr.write(defaultTextFormatter(record));
  await configure({
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { stderr: stderrSink },
    loggers: [
      { category: "fedify", lowestLevel: LOG_LEVEL, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

// ---------------------------------------------------------------------------
// In-memory state
// ---------------------------------------------------------------------------

/** Every verified activity delivered to our inboxes, in arrival order. */
const received = [];
/** Deliveries that Fedify refused because their signature did not verify. */
const unverified = [];
/** Errors thrown while processing verified inbox activities. */
const inboxErrors = [];
/** Every activity we sent, with its delivery outcome. */
const sent = [];
/** Remote actors we follow: key = actor URL as given by the test. */
const following = new Map();
/** Remote actors following us: key = actor id. */
const followers = new Map();
/** Our notes: key = uuid. */
const notes = new Map();
/** uuids of deleted notes (GET answers 410). */
const deletedNotes = new Set();
/** JSON of activities we sent, served at /activities/{uuid}. */
const activityDocs = new Map();

let seq = 0;

// RSASSA-PKCS1-v1_5 key pair (RSA 2048, SHA-256, as Mastodon uses), generated
// at start-up.  Fedify's generateCryptoKeyPair() would make a 4096-bit key,
// which takes seconds to generate on a small machine.
const rsaKeyPair = await crypto.subtle.generateKey(
  {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  true,
  ["sign", "verify"],
);

// ---------------------------------------------------------------------------
// Federation
// ---------------------------------------------------------------------------

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  allowPrivateAddress: true,
  firstKnock: FIRST_KNOCK,
  // No queue: sendActivity() delivers before it resolves and throws on
  // failure, and inbox listeners run inside the inbox request.
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: DISPLAY_NAME,
      summary: `<p>Fedify test peer ${identifier}</p>`,
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: false,
      discoverable: true,
      publicKey: keys[0]?.cryptographicKey ?? null,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) =>
    identifier === USER ? [rsaKeyPair] : []
  )
  .mapHandle((_ctx, username) => (username === USER ? USER : null));

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
    if (identifier !== USER) return null;
    return {
      items: [...followers.values()].map((f) => ({
        id: new URL(f.id),
        inboxId: f.inbox ? new URL(f.inbox) : null,
        endpoints: { sharedInbox: f.sharedInbox ? new URL(f.sharedInbox) : null },
      })),
    };
  })
  .setCounter((_ctx, identifier) => (identifier === USER ? followers.size : null));

federation
  .setFollowingDispatcher("/users/{identifier}/following", (_ctx, identifier) => {
    if (identifier !== USER) return null;
    return {
      items: [...following.values()]
        .filter((f) => f.state === "accepted")
        .map((f) => new URL(f.actorId)),
    };
  })
  .setCounter((_ctx, identifier) =>
    identifier === USER
      ? [...following.values()].filter((f) => f.state === "accepted").length
      : null
  );

federation
  .setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) =>
    identifier === USER ? { items: [] } : null
  )
  .setCounter((_ctx, identifier) => (identifier === USER ? 0 : null));

federation.setObjectDispatcher(Note, "/notes/{id}", (ctx, values) => {
  const rec = notes.get(values.id);
  return rec == null ? null : buildNote(ctx, rec);
});

const inbox = federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // Record every verified delivery, even a repeated activity id.
  .withIdempotency(() => null)
  .on(Activity, onActivity)
  .onError((_ctx, error) => {
    inboxErrors.push({ at: new Date().toISOString(), error: errorText(error) });
    logErr(`inbox listener error: ${errorText(error)}`);
  })
  .onUnverifiedActivity((ctx, activity, reason) => {
    unverified.push({
      at: new Date().toISOString(),
      type: typeName(activity),
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      reason: reason?.type ?? String(reason),
      keyId: reason?.keyId?.href ?? null,
      headers: ctx.data?.headers ?? null,
      raw: ctx.data?.rawJson ?? null,
    });
    // Returning nothing keeps Fedify's 401 response.
  });
if (SIGNED_FETCH) {
  // Key/actor fetches triggered by the shared inbox are signed as our actor
  // too (personal-inbox fetches always are).
  inbox.setSharedKeyDispatcher(() => ({ identifier: USER }));
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function errorText(error) {
  if (error == null) return "unknown error";
  if (error instanceof Error) {
    let text = error.message || error.name;
    if (error.cause != null && error.cause !== error) {
      text += ` (cause: ${errorText(error.cause)})`;
    }
    return text;
  }
  return String(error);
}

function typeName(obj) {
  try {
    const id = obj?.constructor?.typeId?.href;
    if (id) return id.replace(/^.*[#/]/, "");
  } catch {
    // fall through
  }
  return obj?.constructor?.name ?? "Unknown";
}

function newContext(extra = {}) {
  return federation.createContext(new URL(ORIGIN), { afterResponse: [], ...extra });
}

function actorUri(ctx) {
  return ctx.getActorUri(USER);
}

/** The current time, to the millisecond (Temporal.Now would give nanoseconds). */
function nowInstant() {
  return Temporal.Instant.fromEpochMilliseconds(Date.now());
}

function newActivityUrl() {
  return new URL(`/activities/${randomUUID()}`, ORIGIN);
}

/** Document loader for fetching remote documents as (or not as) our actor. */
async function remoteLoader(ctx) {
  return SIGNED_FETCH ? await ctx.getDocumentLoader({ identifier: USER }) : ctx.documentLoader;
}

/**
 * Fetches a remote actor by URL.  The document loader is called directly so
 * that fetch errors (status codes, refused connections) reach the caller
 * instead of being turned into `null` as lookupObject() does.
 */
async function fetchActor(ctx, url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new HttpError(400, `not a URL: ${JSON.stringify(url)}`);
  }
  const documentLoader = await remoteLoader(ctx);
  let remote;
  try {
    remote = await documentLoader(parsed.href);
  } catch (error) {
    throw new HttpError(502, `fetching actor ${parsed.href} failed: ${errorText(error)}`);
  }
  let obj;
  try {
    obj = await APObject.fromJsonLd(remote.document, {
      documentLoader,
      contextLoader: ctx.contextLoader,
      baseUrl: new URL(remote.documentUrl ?? parsed.href),
    });
  } catch (error) {
    throw new HttpError(502, `parsing actor ${parsed.href} failed: ${errorText(error)}`);
  }
  if (!isActor(obj)) {
    throw new HttpError(502, `${parsed.href} is not an actor (got ${typeName(obj)})`);
  }
  if (obj.id == null || obj.inboxId == null) {
    throw new HttpError(502, `actor ${parsed.href} has no id or no inbox`);
  }
  return obj;
}

function recipientOf(actor) {
  return {
    id: actor.id,
    inboxId: actor.inboxId,
    endpoints: actor.endpoints?.sharedInbox
      ? { sharedInbox: actor.endpoints.sharedInbox }
      : null,
  };
}

/**
 * Sends an activity as our actor and records the outcome.  Resolves once the
 * remote inbox answered 2xx; throws otherwise.
 */
async function deliver(ctx, recipient, activity, options = {}) {
  const inboxUrl = options.preferSharedInbox && recipient.endpoints?.sharedInbox
    ? recipient.endpoints.sharedInbox
    : recipient.inboxId;
  const record = {
    at: new Date().toISOString(),
    id: activity.id?.href ?? null,
    type: typeName(activity),
    to: recipient.id?.href ?? null,
    inbox: inboxUrl?.href ?? null,
    status: "sending",
  };
  sent.push(record);
  try {
    const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
    const m = activity.id?.pathname.match(/^\/activities\/([^/]+)$/);
    if (m) activityDocs.set(m[1], json);
  } catch {
    // only used for serving /activities/{uuid}
  }
  try {
    await ctx.sendActivity({ identifier: USER }, recipient, activity, {
      preferSharedInbox: options.preferSharedInbox ?? false,
    });
    record.status = "ok";
  } catch (error) {
    record.status = "error";
    record.error = errorText(error);
    if (error?.statusCode != null) record.statusCode = error.statusCode;
    throw error;
  }
}

function sendErrorResponse(error, extra = {}) {
  const body = { error: errorText(error), ...extra };
  if (error?.statusCode != null) body.statusCode = error.statusCode;
  if (error?.inbox != null) body.inbox = String(error.inbox);
  if (typeof error?.responseBody === "string") body.responseBody = error.responseBody;
  return jsonResponse(502, body);
}

function noteAudience(ctx, rec) {
  return {
    to: PUBLIC_COLLECTION,
    ccs: [ctx.getFollowersUri(USER), new URL(rec.targetId)],
  };
}

function buildNote(ctx, rec) {
  return new Note({
    id: new URL(rec.id),
    attribution: actorUri(ctx),
    ...noteAudience(ctx, rec),
    replyTarget: rec.inReplyTo ? new URL(rec.inReplyTo) : null,
    content: rec.content,
    published: rec.published,
    updated: rec.updated ?? null,
    url: new URL(rec.id),
    tags: rec.mention
      ? [new Mention({ href: new URL(rec.mention.href), name: rec.mention.name })]
      : [],
  });
}

function findNote(noteId) {
  if (typeof noteId !== "string" || noteId === "") return null;
  let uuid = noteId;
  const m = noteId.match(/\/notes\/([^/?#]+)$/);
  if (m) uuid = m[1];
  return notes.get(uuid) ?? null;
}

function jsonResponse(status, value) {
  return new Response(JSON.stringify(value, null, 2) + "\n", {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8" },
  });
}

function parseJsonBody(body) {
  if (body.length === 0) return {};
  try {
    const v = JSON.parse(body.toString("utf8"));
    if (v == null || typeof v !== "object" || Array.isArray(v)) {
      throw new Error("expected a JSON object");
    }
    return v;
  } catch (error) {
    throw new HttpError(400, `invalid JSON body: ${errorText(error)}`);
  }
}

function requireString(body, key) {
  const v = body[key];
  if (typeof v !== "string" || v === "") {
    throw new HttpError(400, `"${key}" (string) is required`);
  }
  return v;
}

function findFollowing(actorUrl) {
  if (following.has(actorUrl)) return [actorUrl, following.get(actorUrl)];
  for (const [key, f] of following) if (f.actorId === actorUrl) return [key, f];
  return [null, null];
}

// ---------------------------------------------------------------------------
// Inbox
// ---------------------------------------------------------------------------

async function onActivity(ctx, activity) {
  let json;
  try {
    json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  } catch (error) {
    json = { error: `toJsonLd failed: ${errorText(error)}` };
  }
  const entry = {
    seq: ++seq,
    type: (json && typeof json.type === "string") ? json.type : typeName(activity),
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    inbox: ctx.recipient == null ? "shared" : "personal",
    receivedAt: new Date().toISOString(),
    json,
    raw: ctx.data?.rawJson ?? null,
    headers: ctx.data?.headers ?? null,
  };
  received.push(entry);

  if (activity instanceof Follow) {
    await onFollow(ctx, activity, entry);
  } else if (activity instanceof Accept) {
    onFollowAnswer(activity, "accepted");
  } else if (activity instanceof Reject) {
    onFollowAnswer(activity, "rejected");
  } else if (activity instanceof Undo) {
    await onUndo(ctx, activity);
  }
  // Create, Update, Delete, Announce, Like, ... are only recorded.
}

async function onFollow(ctx, follow, entry) {
  if (follow.objectId?.href !== actorUri(ctx).href) return;
  const follower = await follow.getActor(ctx);
  if (follower == null || follower.id == null || follower.inboxId == null) {
    throw new Error(`cannot resolve the actor of Follow ${follow.id?.href}`);
  }
  followers.set(follower.id.href, {
    id: follower.id.href,
    inbox: follower.inboxId.href,
    sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
    followId: follow.id?.href ?? null,
    since: new Date().toISOString(),
  });
  // Echo the Follow by its ids only: the parsed instance would re-serialise
  // with the follower's whole actor document embedded (getActor() caches it).
  const accept = new Accept({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    object: new Follow({
      id: follow.id,
      actor: follow.actorId,
      object: follow.objectId,
    }),
    to: follower.id,
  });
  entry.acceptId = accept.id.href;
  const recipient = recipientOf(follower);
  // Send the Accept once the response to the Follow delivery has been
  // written, as real servers do from their job queues.
  const task = async () => {
    try {
      await deliver(newContext(), recipient, accept);
    } catch (error) {
      logErr(`sending Accept ${accept.id.href} failed: ${errorText(error)}`);
    }
  };
  if (Array.isArray(ctx.data?.afterResponse)) ctx.data.afterResponse.push(task);
  else setImmediate(task);
}

function onFollowAnswer(activity, state) {
  const objectId = activity.objectId?.href ?? null;
  const actorId = activity.actorId?.href ?? null;
  let matched = false;
  for (const f of following.values()) {
    if (objectId != null && f.followId === objectId) {
      f.state = state;
      f.answerId = activity.id?.href ?? null;
      matched = true;
    }
  }
  if (!matched) {
    // Fall back to the actor, for answers whose object we cannot match.
    for (const f of following.values()) {
      if (f.actorId === actorId && f.state === "pending") {
        f.state = state;
        f.answerId = activity.id?.href ?? null;
        f.matchedBy = "actor";
      }
    }
  }
}

async function onUndo(ctx, undo) {
  const objectId = undo.objectId?.href ?? null;
  const actorId = undo.actorId?.href ?? null;
  for (const [id, f] of followers) {
    if (objectId != null && f.followId === objectId) {
      followers.delete(id);
      return;
    }
  }
  let object = null;
  try {
    object = await undo.getObject({
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
    });
  } catch {
    object = null;
  }
  if (object instanceof Follow && object.objectId?.href === actorUri(ctx).href) {
    if (actorId != null) followers.delete(actorId);
  }
}

// ---------------------------------------------------------------------------
// Control API
// ---------------------------------------------------------------------------

async function control(method, url, body) {
  const path = url.pathname;
  const route = `${method} ${path}`;
  switch (route) {
    case "GET /_test/ready":
      return jsonResponse(200, { ok: true });

    case "GET /_test/actor":
      return jsonResponse(200, {
        id: `${ORIGIN}/users/${USER}`,
        inbox: `${ORIGIN}/users/${USER}/inbox`,
        sharedInbox: `${ORIGIN}/inbox`,
        keyId: `${ORIGIN}/users/${USER}#main-key`,
        firstKnock: FIRST_KNOCK,
        signedFetch: SIGNED_FETCH,
      });

    case "GET /_test/inbox": {
      const type = url.searchParams.get("type");
      return jsonResponse(200, type ? received.filter((e) => e.type === type) : received);
    }

    case "DELETE /_test/inbox":
      received.length = 0;
      return jsonResponse(200, { ok: true });

    case "GET /_test/following": {
      const out = {};
      for (const [key, f] of following) out[key] = f.state;
      return jsonResponse(200, out);
    }

    case "GET /_test/followers":
      return jsonResponse(200, [...followers.keys()]);

    case "GET /_test/state":
      return jsonResponse(200, {
        actor: `${ORIGIN}/users/${USER}`,
        following: Object.fromEntries(
          [...following].map(([k, f]) => [k, {
            actorId: f.actorId,
            followId: f.followId,
            state: f.state,
            answerId: f.answerId ?? null,
          }]),
        ),
        followers: [...followers.values()],
        notes: [...notes.values()].map((n) => ({
          id: n.id,
          content: n.content,
          inReplyTo: n.inReplyTo,
          to: n.targetId,
        })),
        deletedNotes: [...deletedNotes].map((u) => `${ORIGIN}/notes/${u}`),
        sent,
        unverified,
        inboxErrors,
      });

    case "POST /_test/follow":
      return await controlFollow(parseJsonBody(body));
    case "POST /_test/unfollow":
      return await controlUnfollow(parseJsonBody(body));
    case "POST /_test/reply":
      return await controlReply(parseJsonBody(body));
    case "POST /_test/update":
      return await controlUpdate(parseJsonBody(body));
    case "POST /_test/delete":
      return await controlDelete(parseJsonBody(body));
    case "POST /_test/flag":
      return await controlFlag(parseJsonBody(body));
  }
  throw new HttpError(404, `no control route ${route}`);
}

async function controlFollow(body) {
  const actorUrl = requireString(body, "actor");
  const ctx = newContext();
  const actor = await fetchActor(ctx, actorUrl);
  const follow = new Follow({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    object: actor.id,
  });
  const rec = {
    actorId: actor.id.href,
    followId: follow.id.href,
    follow,
    recipient: recipientOf(actor),
    state: "pending",
  };
  // Record before sending: the Accept may arrive before the POST returns.
  const [oldKey] = findFollowing(actorUrl);
  if (oldKey != null) following.delete(oldKey);
  following.set(actorUrl, rec);
  try {
    await deliver(ctx, rec.recipient, follow);
  } catch (error) {
    rec.state = "failed";
    return sendErrorResponse(error, { followId: follow.id.href });
  }
  return jsonResponse(200, { followId: follow.id.href, actorId: actor.id.href });
}

async function controlUnfollow(body) {
  const actorUrl = requireString(body, "actor");
  const [key, rec] = findFollowing(actorUrl);
  if (rec == null) throw new HttpError(404, `not following ${actorUrl}`);
  const ctx = newContext();
  const undo = new Undo({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    object: rec.follow,
    to: new URL(rec.actorId),
  });
  try {
    await deliver(ctx, rec.recipient, undo);
  } catch (error) {
    return sendErrorResponse(error, { undoId: undo.id.href, followId: rec.followId });
  }
  following.delete(key);
  return jsonResponse(200, { undoId: undo.id.href, followId: rec.followId });
}

async function controlReply(body) {
  const to = requireString(body, "to");
  const content = typeof body.content === "string" ? body.content : "<p>Hello from the Fedify peer</p>";
  const inReplyTo = typeof body.inReplyTo === "string" && body.inReplyTo !== "" ? body.inReplyTo : null;
  const mention = body.mention === true;
  if (inReplyTo != null) {
    try {
      new URL(inReplyTo);
    } catch {
      throw new HttpError(400, `"inReplyTo" is not a URL`);
    }
  }
  const ctx = newContext();
  const target = await fetchActor(ctx, to);
  const uuid = randomUUID();
  const now = nowInstant();
  const rec = {
    uuid,
    id: ctx.getObjectUri(Note, { id: uuid }).href,
    content,
    inReplyTo,
    targetId: target.id.href,
    recipient: recipientOf(target),
    mention: mention
      ? {
        href: target.id.href,
        name: `@${target.preferredUsername ?? "unknown"}@${target.id.host}`,
      }
      : null,
    published: now,
    updated: null,
  };
  // Stored before sending so the receiver can dereference it meanwhile.
  notes.set(uuid, rec);
  const note = buildNote(ctx, rec);
  const create = new Create({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    object: note,
    ...noteAudience(ctx, rec),
    published: now,
  });
  try {
    await deliver(ctx, rec.recipient, create, { preferSharedInbox: true });
  } catch (error) {
    return sendErrorResponse(error, { noteId: rec.id, activityId: create.id.href });
  }
  return jsonResponse(200, { noteId: rec.id, activityId: create.id.href });
}

async function targetFor(ctx, body, rec) {
  const to = typeof body.to === "string" && body.to !== "" ? body.to : null;
  if (to == null || to === rec.targetId) return rec.recipient;
  return recipientOf(await fetchActor(ctx, to));
}

async function controlUpdate(body) {
  const noteId = requireString(body, "noteId");
  const rec = findNote(noteId);
  if (rec == null) throw new HttpError(404, `no note ${noteId}`);
  const ctx = newContext();
  const recipient = await targetFor(ctx, body, rec);
  if (typeof body.content === "string") rec.content = body.content;
  const now = nowInstant();
  rec.updated = now;
  const update = new Update({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    object: buildNote(ctx, rec),
    ...noteAudience(ctx, rec),
    published: now,
  });
  try {
    await deliver(ctx, recipient, update, { preferSharedInbox: true });
  } catch (error) {
    return sendErrorResponse(error, { noteId: rec.id, activityId: update.id.href });
  }
  return jsonResponse(200, { noteId: rec.id, activityId: update.id.href });
}

async function controlDelete(body) {
  const noteId = requireString(body, "noteId");
  const rec = findNote(noteId);
  if (rec == null) throw new HttpError(404, `no note ${noteId}`);
  const ctx = newContext();
  const recipient = await targetFor(ctx, body, rec);
  const del = new Delete({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    object: new Tombstone({ id: new URL(rec.id) }),
    ...noteAudience(ctx, rec),
  });
  // Forget the note first: a receiver that re-fetches it sees 410 Gone.
  notes.delete(rec.uuid);
  deletedNotes.add(rec.uuid);
  try {
    await deliver(ctx, recipient, del, { preferSharedInbox: true });
  } catch (error) {
    return sendErrorResponse(error, { noteId: rec.id, activityId: del.id.href });
  }
  return jsonResponse(200, { noteId: rec.id, activityId: del.id.href });
}

// A report, as Mastodon's "report" button sends it to the server of what was reported:
// { actor: that server's actor, objects: [ids], content: the reporter's words }.
async function controlFlag(body) {
  const actorUrl = requireString(body, "actor");
  const objects = Array.isArray(body.objects) ? body.objects.map((o) => new URL(o)) : [];
  const ctx = newContext();
  const target = await fetchActor(ctx, actorUrl);
  const flag = new Flag({
    id: newActivityUrl(),
    actor: actorUri(ctx),
    objects: [target.id, ...objects],
    content: typeof body.content === "string" ? body.content : null,
    to: target.id,
  });
  try {
    await deliver(ctx, recipientOf(target), flag);
  } catch (error) {
    return sendErrorResponse(error, { activityId: flag.id.href });
  }
  return jsonResponse(200, { activityId: flag.id.href });
}

// ---------------------------------------------------------------------------
// HTTP server (Node's http module <-> Fetch API Request/Response)
// ---------------------------------------------------------------------------

function wantsActivityJson(accept) {
  return /application\/(activity\+json|ld\+json)/i.test(accept ?? "");
}

async function route(req, url, body) {
  const method = req.method ?? "GET";
  if (url.pathname.startsWith("/_test/")) {
    try {
      return { response: await control(method, url, body) };
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      return { response: jsonResponse(status, { error: errorText(error) }) };
    }
  }

  const noteMatch = url.pathname.match(/^\/notes\/([^/]+)$/);
  if (noteMatch && deletedNotes.has(noteMatch[1]) && (method === "GET" || method === "HEAD")) {
    return {
      response: new Response(JSON.stringify({
        "@context": "https://www.w3.org/ns/activitystreams",
        id: `${ORIGIN}/notes/${noteMatch[1]}`,
        type: "Tombstone",
      }), { status: 410, headers: { "Content-Type": "application/activity+json" } }),
    };
  }

  const activityMatch = url.pathname.match(/^\/activities\/([^/]+)$/);
  if (activityMatch && (method === "GET" || method === "HEAD")) {
    const doc = activityDocs.get(activityMatch[1]);
    if (doc == null || !wantsActivityJson(req.headers.accept)) {
      return { response: new Response("Not found\n", { status: 404 }) };
    }
    return {
      response: new Response(JSON.stringify(doc), {
        status: 200,
        headers: { "Content-Type": "application/activity+json" },
      }),
    };
  }

  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  const request = new Request(url, {
    method,
    headers,
    body: hasBody ? body : undefined,
  });
  let rawJson = null;
  if (hasBody && body.length > 0) {
    try {
      rawJson = JSON.parse(body.toString("utf8"));
    } catch {
      rawJson = body.toString("utf8");
    }
  }
  const contextData = {
    afterResponse: [],
    rawJson,
    headers: Object.fromEntries(headers),
  };
  const response = await federation.fetch(request, {
    contextData,
    onNotFound: () => new Response("Not found\n", { status: 404, headers: { "Content-Type": "text/plain" } }),
    onNotAcceptable: () => new Response("Not acceptable\n", { status: 406, headers: { "Content-Type": "text/plain" } }),
  });
  return { response, afterResponse: contextData.afterResponse };
}

const server = http.createServer(async (req, res) => {
  let afterResponse = [];
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? `localhost:${PORT}`}`);
    if (LOG_HTTP) {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        lines.push(`  ${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      logErr(`incoming request\n${lines.join("\n")}`);
    }
    const result = await route(req, url, body);
    afterResponse = result.afterResponse ?? [];
    const response = result.response;
    const payload = Buffer.from(await response.arrayBuffer());
    const outHeaders = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    outHeaders["content-length"] = String(payload.length);
    if (LOG_HTTP) logErr(`-> ${response.status} for ${req.method} ${req.url}`);
    res.writeHead(response.status, outHeaders);
    res.end(req.method === "HEAD" ? undefined : payload, () => {
      for (const task of afterResponse) setImmediate(task);
    });
  } catch (error) {
    logErr(`request handling failed: ${error?.stack ?? errorText(error)}`);
    if (!res.headersSent) {
      res.writeHead(500, { "Content-Type": "application/json" });
    }
    res.end(JSON.stringify({ error: errorText(error) }) + "\n");
  }
});

server.on("error", (error) => fail(`server error: ${errorText(error)}`));
server.listen(PORT, "127.0.0.1", () => {
  process.stdout.write(`ready ${ORIGIN}\n`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
