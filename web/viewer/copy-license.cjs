// Copies the licence of the bundled three.js next to the built bundle (the bundle is committed).
const fs = require('fs');
const path = require('path');
const out = path.join(__dirname, '..', '..', 'src', 'fabgrid', 'web', 'static', 'vendor');
const dir = path.join(__dirname, 'node_modules', 'three');
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const text = `fabgrid viewer bundle (viewer.js) includes three.js ${pkg.version} (https://threejs.org), ` +
  `licensed as follows:\n\n` + fs.readFileSync(path.join(dir, 'LICENSE'), 'utf8');
fs.writeFileSync(path.join(out, 'viewer.LICENSE.txt'), text);
console.log('wrote', path.join(out, 'viewer.LICENSE.txt'));
