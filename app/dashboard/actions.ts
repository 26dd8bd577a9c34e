'use server';

import { revalidatePath } from 'next/cache';
import { getServerApi, logout, redirectToLogin, ServerApiError } from '../../app-router';
import { bffOptions } from '../../bff.config';

/** Adds an item from the dashboard's form: a server action calling the API with the session's token. */
export async function addItem(formData: FormData): Promise<void> {
  const title = String(formData.get('title') ?? '').trim();
  if (title === '') return;
  const api = await getServerApi(bffOptions);
  try {
    await api.post('/items', { title });
  } catch (err) {
    if (err instanceof ServerApiError && err.code === 'unauthorized') redirectToLogin('/dashboard');
    throw err;
  }
  revalidatePath('/dashboard');
}

/** Signs out from the dashboard: the session ends (the API is told) and the cookies are cleared. */
export async function signOut(): Promise<void> {
  await logout(bffOptions);
  redirectToLogin('/dashboard');
}
