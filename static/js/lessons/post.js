// The lesson pages share the API client of the attention page.
export { postJson } from "../api.js";

// A whole number from a number input, or an Error that names the field and its range.
export function wholeNumber(input, label) {
  const value = Number(input.value);
  const min = Number(input.min);
  const max = Number(input.max);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${label} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}
