// node_redis.mjs -- node-redis 6 and 5 (npm `redis` and `redis5`, an alias of redis@5, installed
// into tests/node_modules by scripts/install-deps.sh test) against the real quiver-server, each
// major version in turn: connecting by URL (RESP2 and
// RESP3), its vector-set helpers (vAdd, vSim, vSimWithScores, vCard, vDim, vEmb, vGetAttr,
// vSetAttr, vInfo, vLinks, vRandMember, vRem) in both protocols, MONITOR through client.monitor(),
// and client-side caching (clientSideCache on RESP3, which switches CLIENT TRACKING on): a cached
// read is served from the cache, and a write by another client invalidates it.
// Exit 0 on success; prints every check.
import { readFileSync } from 'node:fs';

// Set per major version by the loop at the bottom (both are loaded the same way).
let createClient;

import { check, checksDone, eventually, startServer } from './lib/server.mjs';

async function vectorHelpers(port, RESP) {
    const c = createClient({ url: `redis://127.0.0.1:${port}`, RESP });
    c.on('error', () => {});
    await c.connect();
    const tag = `RESP${RESP}`;
    check((await c.ping()) === 'PONG', `${tag}: connect() resolves and PING answers`);
    const key = `vs${RESP}`;
    check((await c.vAdd(key, [0.1, 0.9, 0.2], 'alien', { SETATTR: { year: 1979 } })) === true,
          `${tag}: vAdd with SETATTR adds`);
    await c.vAdd(key, [0.2, 0.8, 0.1], 'aliens', { SETATTR: { year: 1986 } });
    await c.vAdd(key, [0.9, 0.1, 0.3], 'amelie');
    check((await c.vCard(key)) === 3, `${tag}: vCard`);
    check((await c.vDim(key)) === 3, `${tag}: vDim`);
    const sim = await c.vSim(key, [0.1, 0.9, 0.2], { COUNT: 2 });
    check(JSON.stringify(sim) === '["alien","aliens"]', `${tag}: vSim ranks ${JSON.stringify(sim)}`);
    const scored = await c.vSimWithScores(key, 'alien', { COUNT: 1 });
    check(scored && Math.abs(Number(scored.alien) - 1) < 1e-6,
          `${tag}: vSimWithScores gives alien a score of 1 (${JSON.stringify(scored)})`);
    const filtered = await c.vSim(key, [0.1, 0.9, 0.2], { FILTER: '.year > 1980' });
    check(JSON.stringify(filtered) === '["aliens"]', `${tag}: vSim FILTER`);
    const emb = await c.vEmb(key, 'amelie');
    check(Array.isArray(emb) && emb.length === 3 && Math.abs(Number(emb[0]) - 0.9) < 0.02,
          `${tag}: vEmb (${JSON.stringify(emb)})`);
    const attrs = await c.vGetAttr(key, 'alien');
    check(attrs && Number(attrs.year) === 1979, `${tag}: vGetAttr parses the JSON`);
    check((await c.vSetAttr(key, 'amelie', { year: 2001 })) === true, `${tag}: vSetAttr`);
    const info = await c.vInfo(key);
    check(info && Number(info['vector-dim'] ?? info.vectorDim) === 3,
          `${tag}: vInfo (${JSON.stringify(info)})`);
    const links = await c.vLinks(key, 'alien');
    check(Array.isArray(links) && links.length >= 1, `${tag}: vLinks`);
    const rnd = await c.vRandMember(key, 2);
    check(Array.isArray(rnd) && rnd.length === 2, `${tag}: vRandMember`);
    check((await c.vRem(key, 'amelie')) === true, `${tag}: vRem`);
    check((await c.vCard(key)) === 2, `${tag}: vCard after vRem`);
    await c.close();
}

async function monitor(port) {
    const watcher = createClient({ url: `redis://127.0.0.1:${port}` });
    watcher.on('error', () => {});
    await watcher.connect();
    const lines = [];
    await watcher.monitor((line) => lines.push(line));
    const c = createClient({ url: `redis://127.0.0.1:${port}` });
    c.on('error', () => {});
    await c.connect();
    await c.vAdd('mon', [1, 2], 'x');
    await eventually(() => lines.some((l) => l.includes('"VADD" "mon"')),
                     'MONITOR delivers the VADD line');
    check(lines.some((l) => /^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "VADD" "mon" "VALUES" "2" "1" "2" "x"$/.test(l)),
          `client.monitor() gets Redis-shaped lines (${lines.find((l) => l.includes('VADD'))})`);
    await c.close();
    await watcher.close();
}

async function clientSideCache(port) {
    const c = createClient({ url: `redis://127.0.0.1:${port}`, RESP: 3,
                             clientSideCache: { ttl: 0, maxEntries: 0 } });
    c.on('error', () => {});
    await c.connect();
    check((await c.ping()) === 'PONG', 'RESP3 + clientSideCache: connect() resolves');
    const writer = createClient({ url: `redis://127.0.0.1:${port}` });
    writer.on('error', () => {});
    await writer.connect();
    await writer.vAdd('cached', [1, 2], 'x');
    check((await c.exists('cached')) === 1, 'EXISTS through the cache: 1');
    check((await c.type('cached')) === 'vectorset', 'TYPE through the cache: vectorset');
    const before = c.clientSideCache.stats();
    check((await c.exists('cached')) === 1, 'EXISTS again: 1');
    const after = c.clientSideCache.stats();
    check(after.hitCount === before.hitCount + 1, 'the second EXISTS is a cache hit');
    await writer.del('cached');
    await eventually(async () => (await c.exists('cached')) === 0,
                     'after DEL by another client the cached EXISTS is invalidated');
    check(true, 'DEL by another client invalidates the cached EXISTS (now 0)');
    await writer.close();
    await c.close();
}

const srv = await startServer();
try {
    for (const mod of ['redis', 'redis5']) {
        ({ createClient } = await import(mod));
        const pkg = new URL(`../node_modules/${mod}/package.json`, import.meta.url);
        console.log(`-- node-redis ${JSON.parse(readFileSync(pkg, 'utf8')).version}`);
        const admin = createClient({ url: `redis://127.0.0.1:${srv.port}` });
        await admin.connect();
        await admin.flushAll(); /* the checks below start from an empty server */
        await admin.close();
        await vectorHelpers(srv.port, 2);
        await vectorHelpers(srv.port, 3);
        await monitor(srv.port);
        await clientSideCache(srv.port);
    }
    console.log(`node_redis.mjs: ${checksDone()} checks passed`);
} finally {
    await srv.stop();
}
