/**
 * Reading runs over REST as a client does, for end-to-end suites: every finished run read through these is checked
 * against the run-row contract (run-contract.ts), so a suite cannot read a run without checking it.
 */
import assert from 'node:assert/strict';
import { eventually, type Api } from './host.js';
import { checkFinishedRuns, checkRunContract, type ContractOptions, type ContractRun } from './run-contract.js';

export interface FinishedRunOptions extends ContractOptions {
  /** How long to wait for the run to end (default 15 s). */
  timeoutMs?: number;
}

/** Polls GET /api/v1/runs/:runId until the run has ended, and returns it checked against the contract. */
export async function finishedRun(api: Api, runId: string, options: FinishedRunOptions = {}): Promise<ContractRun> {
  const { timeoutMs, ...contract } = options;
  const run = await eventually(`run ${runId} to end`, async () => {
    const res = await api.get<ContractRun>(`/api/v1/runs/${runId}`);
    return res.status === 200 && res.body.status !== 'QUEUED' && res.body.status !== 'RUNNING' ? res.body : undefined;
  }, timeoutMs);
  return checkRunContract(run, contract);
}

/** GET /api/v1/runs/:runId once; a finished run is checked against the contract, a QUEUED or RUNNING one is not. */
export async function readRun(api: Api, runId: string, contract: ContractOptions = {}): Promise<ContractRun> {
  const res = await api.get<ContractRun>(`/api/v1/runs/${runId}`);
  assert.equal(res.status, 200, res.text);
  checkFinishedRuns([res.body], contract);
  return res.body;
}

/** GET /api/v1/runs?<query>: the runs listed, each finished one checked against the contract. */
export async function listRuns(api: Api, query: string): Promise<ContractRun[]> {
  const res = await api.get<{ items: ContractRun[] }>(`/api/v1/runs?${query}`);
  assert.equal(res.status, 200, res.text);
  checkFinishedRuns(res.body.items);
  return res.body.items;
}
