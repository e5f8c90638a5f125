// Imports every domain, then builds the schema. Importing this module connects to nothing.
import { builder } from '../builder.js';
import './events.js';
import './metrics.js';
import './dashboard.js';
import './alerts.js';
import './apiKeys.js';
import './authentication.js';

export const schema = builder.toSchema();
