// fabgrid's 3D part viewer: loads the part's mesh (binary STL from /api/v1/parts/{id}/mesh, faces in the
// order the DFM findings index) and draws it with three.js, the faces named by findings coloured by severity.
// Bundled by esbuild into src/fabgrid/web/static/vendor/viewer.js (global `FabgridViewer`); no CDN.
import {
  AmbientLight, BufferAttribute, Color, DirectionalLight, Mesh, MeshStandardMaterial, PerspectiveCamera,
  Scene, SphereGeometry, Vector3, WebGLRenderer, MeshBasicMaterial, Box3, GridHelper,
} from 'three';
import { STLLoader } from 'three/examples/jsm/loaders/STLLoader.js';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

export const SEVERITY_COLORS = { error: [0.86, 0.15, 0.15], warning: [0.96, 0.62, 0.04], info: [0.23, 0.51, 0.96] };
const BASE = [0.72, 0.75, 0.80];
const RANK = { info: 1, warning: 2, error: 3 };

// Per-vertex colours of a non-indexed geometry: face i owns vertices 3i..3i+2.
export function faceColors(nFaces, findings) {
  const rank = new Uint8Array(nFaces);
  const colors = new Float32Array(nFaces * 9);
  for (let i = 0; i < nFaces * 3; i++) colors.set(BASE, i * 3);
  let marked = 0;
  for (const f of findings || []) {
    const r = RANK[f.severity] || 0;
    const c = SEVERITY_COLORS[f.severity];
    if (!c) continue;
    for (const idx of f.face_indices || []) {
      if (idx < 0 || idx >= nFaces || rank[idx] >= r) continue;
      if (rank[idx] === 0) marked++;
      rank[idx] = r;
      for (let k = 0; k < 3; k++) colors.set(c, (idx * 3 + k) * 3);
    }
  }
  return { colors, marked };
}

export async function mount(el, opts) {
  const status = (msg) => { el.dataset.status = msg; };
  status('loading');
  let renderer;
  try {
    renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (e) {
    status('no-webgl');
    el.textContent = (opts.messages && opts.messages.noWebgl) || 'WebGL is not available in this browser.';
    return null;
  }
  const resp = await fetch(opts.meshUrl, { credentials: 'same-origin' });
  if (!resp.ok) {
    status('error');
    const msg = (opts.messages && opts.messages.meshError) || 'The part could not be loaded (HTTP {status}).';
    el.textContent = msg.replace('{status}', String(resp.status));
    return null;
  }
  const geometry = new STLLoader().parse(await resp.arrayBuffer());
  const nFaces = geometry.attributes.position.count / 3;
  const { colors, marked } = faceColors(nFaces, opts.findings);
  geometry.setAttribute('color', new BufferAttribute(colors, 3));
  geometry.computeVertexNormals();

  const w = el.clientWidth || 640, h = el.clientHeight || 420;
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  renderer.setSize(w, h);
  el.innerHTML = '';
  el.appendChild(renderer.domElement);
  const scene = new Scene();
  scene.background = new Color(0xf4f6fa);
  scene.add(new AmbientLight(0xffffff, 0.55));
  const sun = new DirectionalLight(0xffffff, 1.6);
  sun.position.set(1, 1.5, 2);
  scene.add(sun);
  const back = new DirectionalLight(0xffffff, 0.6);
  back.position.set(-1, -1, -1.5);
  scene.add(back);
  const mesh = new Mesh(geometry, new MeshStandardMaterial({ vertexColors: true, roughness: 0.7, metalness: 0.05 }));
  scene.add(mesh);

  const box = new Box3().setFromObject(mesh);
  const size = box.getSize(new Vector3());
  const center = box.getCenter(new Vector3());
  const radius = Math.max(size.length() / 2, 1e-3);
  for (const f of opts.findings || []) {
    const c = SEVERITY_COLORS[f.severity];
    for (const p of (f.points_mm || []).slice(0, 200)) {
      const dot = new Mesh(new SphereGeometry(radius * 0.02, 12, 8), new MeshBasicMaterial({ color: new Color(...c) }));
      dot.position.set(p[0], p[1], p[2]);
      scene.add(dot);
    }
  }
  const grid = new GridHelper(radius * 4, 20, 0xc0c6d0, 0xdde1e8);
  grid.rotation.x = Math.PI / 2;
  grid.position.set(center.x, center.y, box.min.z);
  scene.add(grid);

  const camera = new PerspectiveCamera(40, w / h, radius / 100, radius * 100);
  camera.up.set(0, 0, 1);
  camera.position.copy(center).add(new Vector3(1.4, -1.9, 1.2).multiplyScalar(radius * 1.6));
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.target.copy(center);
  controls.update();
  const render = () => renderer.render(scene, camera);
  controls.addEventListener('change', render);
  window.addEventListener('resize', () => {
    const ww = el.clientWidth || w, hh = el.clientHeight || h;
    renderer.setSize(ww, hh); camera.aspect = ww / hh; camera.updateProjectionMatrix(); render();
  });
  render();
  el.dataset.triangles = String(nFaces);
  el.dataset.marked = String(marked);
  status('ready');
  return { renderer, scene, camera, controls, mesh, render };
}

// Auto-mount every element with data-mesh-url (data-findings holds the findings JSON).
function autoMount() {
  document.querySelectorAll('[data-mesh-url]').forEach((el) => {
    let findings = [];
    try { findings = JSON.parse(el.dataset.findings || '[]'); } catch (e) { findings = []; }
    mount(el, { meshUrl: el.dataset.meshUrl, findings,
                messages: { noWebgl: el.dataset.noWebgl, meshError: el.dataset.meshError } })
      .catch((e) => { el.dataset.status = 'error'; el.textContent = String(e); });
  });
}
if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoMount);
  else autoMount();
}
