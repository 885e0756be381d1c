/**
 * Stopping an analysis between two of its units of work (an attack run, the loss evaluation), for
 * Ctrl-C/SIGTERM in `dbp-bench analyze`: a figure needs all of its units, so a stopped analysis
 * returns no report.
 */

/** Thrown by an analysis that its `shouldStop` stopped: `done` of `total` units were computed, none kept. */
export class AnalysisStopped extends Error {
  constructor(
    readonly analysis: 'trajectories' | 'landscape',
    readonly done: number,
    readonly total: number,
    /** What a unit is, plural (for messages): "attack runs". */
    readonly units: string,
  ) {
    super(`${analysis}: stopped after ${done}/${total} ${units}; no report (it needs all of them)`);
    this.name = 'AnalysisStopped';
  }
}

/**
 * Between two units: let pending signal handlers run (the attacks compute synchronously), then throw
 * AnalysisStopped when `shouldStop` says so.
 */
export async function stopPoint(shouldStop: (() => boolean) | undefined, stopped: () => AnalysisStopped): Promise<void> {
  if (!shouldStop) return;
  await new Promise((resolve) => setImmediate(resolve));
  if (shouldStop()) throw stopped();
}
