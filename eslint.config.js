import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', '.examples/**', 'coverage/**', '.tap/**', 'node_modules/**']
})
