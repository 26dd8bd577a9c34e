import type { NextApiRequest, NextApiResponse } from 'next';

// Bench only: the heap after a forced GC (the server runs with --expose-gc).
export default function heap(_req: NextApiRequest, res: NextApiResponse) {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  res.json({ heapUsed: process.memoryUsage().heapUsed, gc: Boolean(gc) });
}
