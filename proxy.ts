import { createSessionProxy } from './app-router';
import { bffOptions } from './bff.config';

// Refreshes a session whose access token is about to expire before a page renders (server components
// cannot set cookies). Never for /api: the catch-all route refreshes for itself.
export const proxy = createSessionProxy(bffOptions);

export const config = { matcher: ['/((?!api/|api$|_next/static|_next/image|favicon).*)'] };
