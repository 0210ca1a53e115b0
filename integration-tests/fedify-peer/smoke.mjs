// Self-check of peer.mjs without Rathaus: starts two peers on loopback and
// drives follow / accept / reply / update / delete / unfollow between them,
// once per PEER_FIRST_KNOCK mode.  Run after `npm install`:
//
//   node smoke.mjs            (ports 39101-39104, override with SMOKE_PORT)
//
// Prints one line per check and a closing "N passed, N failed" line; exits
// non-zero when a check failed.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const PEER = fileURLToPath(new URL("./peer.mjs", import.meta.url));
const BASE_PORT = Number.parseInt(process.env.SMOKE_PORT ?? "39101", 10);

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok || detail == null ? "" : `: ${detail}`}`);
}

async function startPeer(port, user, firstKnock) {
  const child = spawn(process.execPath, [PEER], {
    env: { ...process.env, PORT: String(port), PEER_USER: user, PEER_FIRST_KNOCK: firstKnock },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill(), 20000);
  const [line] = await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(() => [null]),
  ]);
  clearTimeout(timer);
  if (line !== `ready http://localhost:${port}`) {
    child.kill();
    throw new Error(`peer ${user} did not start (got ${JSON.stringify(line)})`);
  }
  return { child, base: `http://localhost:${port}`, actor: `http://localhost:${port}/users/${user}` };
}

async function call(peer, method, path, body) {
  const res = await fetch(`${peer.base}${path}`, {
    method,
    headers: body == null ? {} : { "Content-Type": "application/json" },
    body: body == null ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // leave null
  }
  return { status: res.status, json, text };
}

async function waitFor(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function scenario(firstKnock, portA, portB) {
  const tag = `[${firstKnock}]`;
  const alice = await startPeer(portA, "alice", firstKnock);
  const bob = await startPeer(portB, "bob", firstKnock);
  try {
    const ready = await call(alice, "GET", "/_test/ready");
    check(`${tag} ready`, ready.status === 200 && ready.json?.ok === true, ready.text);

    const follow = await call(alice, "POST", "/_test/follow", { actor: bob.actor });
    check(`${tag} follow sent`, follow.status === 200 && follow.json?.followId, follow.text);
    const accepted = await waitFor(async () =>
      (await call(alice, "GET", "/_test/following")).json?.[bob.actor] === "accepted"
    );
    check(`${tag} follow accepted`, accepted);
    const followers = await call(bob, "GET", "/_test/followers");
    check(`${tag} bob has follower`, followers.json?.includes(alice.actor), followers.text);

    const reply = await call(alice, "POST", "/_test/reply", {
      inReplyTo: `${bob.base}/notes/x`,
      to: bob.actor,
      content: "<p>hello bob</p>",
      mention: true,
    });
    check(`${tag} reply sent`, reply.status === 200 && reply.json?.noteId, reply.text);
    const noteId = reply.json?.noteId;
    const inbox1 = (await call(bob, "GET", "/_test/inbox")).json ?? [];
    const create = inbox1.find((e) => e.type === "Create");
    check(
      `${tag} bob got Create{Note}`,
      create?.raw?.object?.id === noteId &&
        create?.raw?.object?.inReplyTo === `${bob.base}/notes/x` &&
        create?.raw?.object?.tag?.type === "Mention",
      JSON.stringify(create?.raw),
    );
    const note = await fetch(noteId, { headers: { Accept: "application/activity+json" } });
    const noteJson = await note.json().catch(() => null);
    check(`${tag} note dereferenceable`, note.status === 200 && noteJson?.id === noteId);

    const update = await call(alice, "POST", "/_test/update", { noteId, content: "<p>edited</p>", to: bob.actor });
    check(`${tag} update sent`, update.status === 200, update.text);
    const inbox2 = (await call(bob, "GET", "/_test/inbox")).json ?? [];
    const upd = inbox2.find((e) => e.type === "Update");
    check(`${tag} bob got Update`, upd?.raw?.object?.content === "<p>edited</p>", JSON.stringify(upd?.raw));

    const del = await call(alice, "POST", "/_test/delete", { noteId, to: bob.actor });
    check(`${tag} delete sent`, del.status === 200, del.text);
    const inbox3 = (await call(bob, "GET", "/_test/inbox")).json ?? [];
    const d = inbox3.find((e) => e.type === "Delete");
    check(`${tag} bob got Delete`, d?.raw?.object?.id === noteId, JSON.stringify(d?.raw));
    const gone = await fetch(noteId, { headers: { Accept: "application/activity+json" } });
    check(`${tag} deleted note is gone`, gone.status === 410 || gone.status === 404, String(gone.status));

    const sigHeader = firstKnock === "rfc9421" ? "signature-input" : "signature";
    check(
      `${tag} signed with ${firstKnock}`,
      inbox3.every((e) => e.headers?.[sigHeader] != null) &&
        (firstKnock === "rfc9421" || inbox3.every((e) => e.headers?.["signature-input"] == null)),
    );

    const unfollow = await call(alice, "POST", "/_test/unfollow", { actor: bob.actor });
    check(`${tag} unfollow sent`, unfollow.status === 200, unfollow.text);
    const gone2 = await waitFor(async () => (await call(bob, "GET", "/_test/followers")).json?.length === 0);
    check(`${tag} follower removed`, gone2);

    const bad = await call(alice, "POST", "/_test/reply", { to: `http://localhost:${portB}/users/nobody` });
    check(`${tag} errors surface as 502`, bad.status === 502, bad.text);
  } finally {
    alice.child.kill();
    bob.child.kill();
  }
}

try {
  await scenario("rfc9421", BASE_PORT, BASE_PORT + 1);
  await scenario("cavage", BASE_PORT + 2, BASE_PORT + 3);
} catch (error) {
  check("scenario", false, error?.stack ?? String(error));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
