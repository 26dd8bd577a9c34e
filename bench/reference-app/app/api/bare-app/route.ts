// The ceiling for any route-handler proxy: a route handler that answers the same JSON without calling anything.
const ITEM = JSON.stringify({ id: 1, name: 'bench item', tags: ['a', 'b'] });

export function GET(): Response {
  return new Response(ITEM, { headers: { 'content-type': 'application/json' } });
}
