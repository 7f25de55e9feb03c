// ioredis.js -- ioredis (npm, installed into tests/node_modules by scripts/install-deps.sh test)
// against the real quiver-server: connecting (its INFO-based ready check), the vector-set commands
// through call() and in a pipeline, MONITOR through redis.monitor() (its parser splits each line
// into time, args, source and database), client-side caching the RESP2 way (CLIENT TRACKING with
// REDIRECT to a connection subscribed to __redis__:invalidate), and DUMP/RESTORE with Buffers.
// Exit 0 on success; prints every check.
'use strict';
const Redis = require('ioredis');

(async () => {
    const { check, checksDone, eventually, startServer } = await import('./lib/server.mjs');
    const srv = await startServer();
    const opts = { port: srv.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 };
    const clients = [];
    const open = async (more = {}) => {
        const r = new Redis({ ...opts, ...more });
        r.on('error', () => {});
        clients.push(r);
        await r.connect();
        return r;
    };
    try {
        const r = await open();
        check(r.status === 'ready', 'connect() reaches ready (INFO loading:0)');
        check((await r.ping()) === 'PONG', 'PING');
        const info = await r.info('server');
        check(/redis_version:8\.\d+\.\d+/.test(info), 'INFO server reports a Redis 8 version');

        // ---- vector sets ----
        check((await r.call('VADD', 'films', 'VALUES', '3', '0.1', '0.9', '0.2', 'alien',
                            'SETATTR', '{"year":1979}')) === 1, "call('VADD', ...) adds");
        const p = r.pipeline();
        for (let i = 0; i < 50; i++)
            p.call('VADD', 'films', 'VALUES', '3', String(Math.sin(i)), String(Math.cos(i)), '0.5',
                   `f${i}`);
        const res = await p.exec();
        check(res.length === 50 && res.every(([err, v]) => !err && v === 1),
              'a pipeline of 50 VADDs: 50 times 1');
        check((await r.call('VCARD', 'films')) === 51, 'VCARD');
        const sim = await r.call('VSIM', 'films', 'ELE', 'alien', 'COUNT', '3', 'WITHSCORES');
        check(Array.isArray(sim) && sim.length === 6 && sim[0] === 'alien' && Number(sim[1]) === 1,
              `VSIM ... WITHSCORES (${JSON.stringify(sim)})`);
        check((await r.call('VGETATTR', 'films', 'alien')) === '{"year":1979}', 'VGETATTR');
        check((await r.type('films')) === 'vectorset', 'TYPE is vectorset');

        // ---- DUMP / RESTORE with Buffers ----
        const payload = await r.dumpBuffer('films');
        check(Buffer.isBuffer(payload) && payload.length > 100, 'dumpBuffer() gives the payload');
        check((await r.restore('films2', 0, payload)) === 'OK', 'restore() under a new name');
        const a = await r.call('VSIM', 'films', 'ELE', 'f7', 'COUNT', '10');
        const b = await r.call('VSIM', 'films2', 'ELE', 'f7', 'COUNT', '10');
        check(JSON.stringify(a) === JSON.stringify(b), 'the restored set answers the same VSIM');
        let busy = '';
        try { await r.restore('films2', 0, payload); } catch (e) { busy = e.message; }
        check(busy.startsWith('BUSYKEY'), `restore() over an existing key: ${busy}`);

        // ---- MONITOR ----
        const mon = await r.monitor();
        const seen = [];
        mon.on('monitor', (time, args, source, database) => seen.push({ time, args, source, database }));
        const w = await open();
        await w.call('VADD', 'mon', 'VALUES', '2', '1', '2', 'x');
        await eventually(() => seen.some((s) => s.args[0] === 'VADD'), 'MONITOR sees the VADD');
        const line = seen.find((s) => s.args[0] === 'VADD');
        check(line.args.join(' ') === 'VADD mon VALUES 2 1 2 x' && line.database === '0' &&
                  /^127\.0\.0\.1:\d+$/.test(line.source) && /^\d+\.\d+$/.test(line.time),
              `monitor event parsed: ${JSON.stringify(line)}`);
        mon.disconnect();

        // ---- client-side caching, RESP2 redirect ----
        // ioredis 6 speaks RESP3 by default and drops pushes it does not know ("invalidate"),
        // so the redirect way is exercised on RESP2 connections, as RESP2 applications use it.
        const sub = await open({ protocol: 2 });
        const subId = await sub.client('ID');
        const invalidated = [];
        sub.on('message', (channel, msg) => invalidated.push([channel, msg]));
        sub.on('messageBuffer', () => {});
        await sub.subscribe('__redis__:invalidate');
        const t = await open({ protocol: 2 });
        check((await t.client('TRACKING', 'on', 'REDIRECT', String(subId))) === 'OK',
              'CLIENT TRACKING on REDIRECT <subscriber id>');
        check((await t.client('GETREDIR')) === subId, 'CLIENT GETREDIR names the subscriber');
        await t.call('VCARD', 'films');
        await w.call('VREM', 'films', 'f1');
        await eventually(() => invalidated.length > 0, 'an invalidation message arrives');
        check(invalidated[0][0] === '__redis__:invalidate' && invalidated[0][1] === 'films',
              `invalidation on __redis__:invalidate (${JSON.stringify(invalidated[0])})`);
        console.log(`ioredis.js: ${checksDone()} checks passed`);
    } finally {
        for (const c of clients) c.disconnect();
        await srv.stop();
    }
})().catch((e) => {
    console.error(e.stack || String(e));
    process.exit(1);
});
