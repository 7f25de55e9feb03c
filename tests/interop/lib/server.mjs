// server.mjs -- imported by the Node interop scripts (tests/interop/*.mjs, *.js through a dynamic
// import): start the real quiver-server on a free port in a fresh temporary directory, stop it
// and remove the directory at the end, and count checks. Kept in lib/ so that
// scripts/run-tests.sh does not run it as a test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let server = process.env.QUIVER_SERVER || path.join(ROOT, 'src', 'quiver-server');
if (!path.isAbsolute(server)) server = path.join(ROOT, server);

let checks = 0;
export function check(cond, what) {
    if (!cond) throw new Error('FAIL: ' + what);
    checks++;
    console.log('ok   ' + what);
}
export function checksDone() {
    return checks;
}

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
        s.on('error', reject);
    });
}

function pings(port) {
    return new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.setTimeout(1000);
        sock.on('connect', () => sock.write('PING\r\n'));
        sock.on('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
        sock.on('error', () => resolve(false));
        sock.on('timeout', () => { sock.destroy(); resolve(false); });
    });
}

// Starts a server; returns { port, stop }. extra: more command-line arguments.
export async function startServer(extra = []) {
    const base = process.env.QUIVER_TEST_TMPDIR || os.tmpdir();
    const dir = fs.mkdtempSync(path.join(base, 'quiver-node-'));
    const log = path.join(dir, 'quiver.log');
    const port = await freePort();
    const proc = spawn(server, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
                                '--logfile', log, ...extra], { stdio: 'ignore' });
    let exited = false;
    proc.on('exit', () => { exited = true; });
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && !exited) {
        if (await pings(port)) {
            return {
                port,
                async stop() {
                    if (!exited) {
                        proc.kill('SIGTERM');
                        await new Promise((r) => (exited ? r() : proc.on('exit', r)));
                    }
                    fs.rmSync(dir, { recursive: true, force: true });
                },
            };
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '';
    proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error('server did not start; log:\n' + tail);
}

// Polls fn() until it returns true (10 s at most).
export async function eventually(fn, what) {
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
        if (await fn()) return;
        await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('FAIL (timed out): ' + what);
}
