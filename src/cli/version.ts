export { weirVersion } from '../version.js';
