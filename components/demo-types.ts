/** The demo API's user and item (demo-api/store.ts), as the demo's pages of both routers show them. */
export interface User {
  id: string;
  email: string;
  name: string;
}

export interface Item {
  id: string;
  title: string;
}
