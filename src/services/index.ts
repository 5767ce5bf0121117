/**
 * The services-file model: parsing and validation of the file that lists
 * load-balanced services, shared by every command that reads one.
 *
 * @module
 */
export type { Frontend, MaglevSettings, ServiceSpec, ServicesDocument } from "./model.js";
export { ServicesFileError, serviceLabel, type ServicesErrorCode } from "./errors.js";
export { parseServicesText } from "./parse.js";
export { validateServices } from "./validate.js";
export { loadServicesFile } from "./load.js";
export { formatFrontend } from "./frontend.js";
export { tableFileName, serviceNameProblem, MAX_SERVICE_NAME_LENGTH } from "./names.js";
export type { SettingsOverrides } from "./settings.js";
