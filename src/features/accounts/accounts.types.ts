/** A signed-in user as other features' rules see them: who it is and the role they check. */
export interface Viewer {
  id: string;
  role: 'user' | 'admin';
}
