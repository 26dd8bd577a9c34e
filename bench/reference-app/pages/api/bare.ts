import type { NextApiRequest, NextApiResponse } from 'next';

// The ceiling for any API-route proxy: an API route that answers the same JSON without calling anything.
const ITEM = JSON.stringify({ id: 1, name: 'bench item', tags: ['a', 'b'] });

export const config = { api: { bodyParser: false } };

export default function bare(_req: NextApiRequest, res: NextApiResponse) {
  res.setHeader('content-type', 'application/json');
  res.end(ITEM);
}
