'use client';

import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';

/**
 * The site header of both routers. `userName` comes from a server render that knows the user; without
 * it, the header asks `GET /api/session` (which never returns the token) whether someone is signed in.
 */
export function SiteHeader({ userName }: { userName?: string }) {
  const [signedIn, setSignedIn] = useState<boolean | null>(userName === undefined ? null : true);
  // Marked once React has hydrated the page (effects run only then): the e2e waits for it before using forms.
  const header = useRef<HTMLElement>(null);
  useEffect(() => header.current?.setAttribute('data-hydrated', 'true'), []);

  useEffect(() => {
    if (userName !== undefined) return;
    let active = true;
    fetch('/api/session', { credentials: 'same-origin', headers: { accept: 'application/json', 'x-csrf': '1' } })
      .then(async (res) => (res.ok ? ((await res.json()) as { authenticated: boolean }).authenticated : false))
      .then((authenticated) => active && setSignedIn(authenticated))
      .catch(() => active && setSignedIn(false));
    return () => {
      active = false;
    };
  }, [userName]);

  return (
    <header className="site-header" ref={header}>
      <Link href="/" className="brand">
        next-bff-proxy
      </Link>
      <nav>
        <Link href="/profile">Profile</Link>
        <Link href="/dashboard">Dashboard</Link>
        {signedIn ? (
          <span className="signed-in" data-testid="signed-in">
            Signed in{userName === undefined ? '' : ` as ${userName}`}
          </span>
        ) : signedIn === false ? (
          <Link href="/login">Sign in</Link>
        ) : null}
      </nav>
    </header>
  );
}
