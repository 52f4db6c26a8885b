// Every recipe's documentation (light: no elements are loaded). Add a recipe's RecipeDoc here.
import type { RecipeDoc } from './recipe.js';
import { ipRouterDoc } from './router.doc.js';

export type { RecipeDoc } from './recipe.js';
export const recipes: RecipeDoc[] = [ipRouterDoc];
