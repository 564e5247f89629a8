/**
 * The REST half of workload 2's client, in a worker thread: N trigger requests through `POST /api/v1/jobs/:id/trigger`
 * with a bounded number in flight. A client in the host's own event loop charged its fetch work to the host; a real
 * client is another process. On 2 cores it still competes with the host for CPU, as a client on the same box would.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

interface ClientJob {
  url: string;
  jobId: number;
  runs: number;
  lanes: number;
}

/** Sends the requests from a worker thread; resolves with how many were refused (not 2xx). */
export function restClient(job: ClientJob): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once('message', (refused: number) => resolve(refused));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the REST client exited with code ${code} before it reported`)));
  });
}

async function send({ url, jobId, runs, lanes }: ClientJob): Promise<number> {
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'bench-password' }),
  });
  const { token } = (await login.json()) as { token: string };
  let sent = 0;
  let refused = 0;
  const lane = async (): Promise<void> => {
    while (sent < runs) {
      sent++;
      const res = await fetch(`${url}/api/v1/jobs/${jobId}/trigger`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
      await res.arrayBuffer();
      if (res.status < 200 || res.status >= 300) refused++;
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return refused;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  void send(workerData as ClientJob).then((refused) => port.postMessage(refused));
}
