// Writes msgpackr_document.json: documents packed by the real msgpackr (JavaScript), the library NovelAI's
// web app uses, with the extension types NovelAI registers (20, 30, 31, 40, 41, 42) as pass-through
// "read/write" extensions. naikit's decoder is tested against these bytes (tests/test_document.py).
// Regenerate with msgpackr from the npm registry (not needed to run the tests):
//   (cd /tmp/m && npm install msgpackr) && node tests/data/content/make_msgpackr_fixture.mjs \
//     /tmp/m/node_modules/msgpackr/index.js > tests/data/content/msgpackr_document.json
const { Packr, addExtension } = await import(process.argv[2]);

class Doc { constructor(o) { Object.assign(this, o) } }
class Section { constructor(o) { Object.assign(this, o) } }
class SectionMeta { constructor(o) { Object.assign(this, o) } }
class History { constructor(o) { Object.assign(this, o) } }
class HistoryNode { constructor(o) { Object.assign(this, o) } }
class Change { constructor(o) { Object.assign(this, o) } }
const classes = [[20, Doc], [30, Section], [31, SectionMeta], [40, History], [41, HistoryNode], [42, Change]];
for (const [type, Class] of classes) {
  addExtension({ Class, type, write: (v) => Object.assign({}, v), read: (v) => new Class(v) });
}

const sections = new Map();
const order = [];
const paragraphs = [
  "The lighthouse keeper counted the ships again.",
  "Émilie wrote in her log: « seven, not six » — and underlined it twice. 🌊",
  "",
  "Nobody answered the radio.",
];
paragraphs.forEach((text, i) => {
  const id = 1641454468422109 + i * 1000003; // 16 digits: beyond 2^53? no, but beyond 32 bits: a double
  sections.set(id, new Section({ type: 1, text, meta: new Map([[1, [new SectionMeta({ position: 0, data: 1, length: Math.min(5, text.length) })]], [2, []]]), source: i === 0 ? undefined : 0 }));
  order.push(id);
});
const nodes = new Map();
nodes.set(1424383245752401, new HistoryNode({
  id: 1424383245752401, parent: undefined, children: new Set([1350048921598512]), route: undefined,
  changes: new Map([[1671454468462109, new Change({ type: 1, diff: { from: 0, to: 3 } })], [2141014204757573, new Change({ type: 0, section: sections.get(order[0]), after: order[1] })]]),
  date: new Date(Date.UTC(2023, 7, 15, 7, 40, 45, 104)), genPosition: undefined,
}));
const doc = new Doc({ sections, order, history: new History({ root: 1424383245752401, current: 1424383245752401, nodes }), dirtySections: new Map(), step: 4, small: [64, 100, 127, -5, 1.5, 4294967296, -2147483649] });

const out = { paragraphs, variants: {} };
for (const [name, options] of [["records", {}], ["bundled", { bundleStrings: true, moreTypes: true }], ["maps", { useRecords: false }]]) {
  const packr = new Packr(options);
  out.variants[name] = Buffer.from(packr.pack(doc)).toString("base64");
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
