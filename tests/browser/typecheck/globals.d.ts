// Globals the pages get outside ES modules: the vendored Chart.js and the app's test hook.
interface Window {
  Chart: any;
  fieldvisit: any;
}
