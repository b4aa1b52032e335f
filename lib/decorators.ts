/**
 * `@Cron`, `@Interval` and `@At`: standard (TC39) method decorators that
 * declare jobs on a class; `jobsOf(object)` turns an object's declarations into
 * job definitions, and `Scheduler.addJobsFrom` adds them.
 *
 * Declarations are recorded in the class's decorator metadata
 * (`context.metadata`, i.e. `Class[Symbol.metadata]`), not through
 * `addInitializer`: metadata is per class and set once at class definition, it
 * inherits along `extends` by itself (each class's metadata object has its
 * parent's as prototype), it needs no constructor to run (an object made with
 * `Object.create(Class.prototype)` works too), and `declareJobs` can write it
 * for plain JS. Initializers would run on every construction, and only for
 * objects built by `new`.
 */
import { ErrorCodes, SchedulerError, describe } from './errors.js'
import type { DateInput } from './instant.js'
import type { DurationInput } from './duration.js'
import type { JobContext, JobDefinition } from './job.js'
import type { CronTriggerSpec, IntervalTriggerSpec, TriggerSpec } from './triggers/trigger.js'

// Node 20 has no Symbol.metadata, and TypeScript's emitted decorator code
// passes `context.metadata` only when it exists at class definition. This
// module is imported before any class that uses its decorators is evaluated,
// so defining it here is early enough. Symbol.for('Symbol.metadata') is the
// fallback esbuild and Babel already use, so the three compilers agree.
const symbols = Symbol as unknown as { metadata?: symbol }
symbols.metadata ??= Symbol.for('Symbol.metadata')
const METADATA: symbol = symbols.metadata

// A registered symbol, so that two copies of this package (a jobs library and
// the app depending on different versions) still see each other's declarations.
const DECLARATIONS = Symbol.for('fastify-scheduler.jobs')

/** The `JobDefinition` fields a decorator takes: all but `trigger` and `handler`, with `id` optional. */
export interface DeclaredJobOptions<TData = unknown> {
  /** Default: `ClassName.methodName`, with the class of the object handed to `addJobsFrom`. */
  id?: string
  name?: string
  data?: TData
  maxInstances?: number
  coalesce?: boolean
  misfireGraceTime?: number | null
  timeout?: number | null
  onLost?: 'mark' | 'rerun'
  paused?: boolean
  replaceExisting?: boolean
}

export interface CronOptions<TData = unknown> extends DeclaredJobOptions<TData>, Pick<CronTriggerSpec, 'timezone' | 'startAt' | 'endAt' | 'jitter'> {}
export interface IntervalOptions<TData = unknown> extends DeclaredJobOptions<TData>, Pick<IntervalTriggerSpec, 'immediate' | 'startAt' | 'endAt' | 'jitter'> {}
export interface AtOptions<TData = unknown> extends DeclaredJobOptions<TData>, Pick<TriggerSpec, 'jitter'> {}

/**
 * What `Cron(...)`, `Interval(...)` and `At(...)` return. It takes a method with
 * no parameter or one `JobContext` whose `data` is the declared data; the owner
 * (`ctx.fastify`) is not known here, so any owner type is accepted (`never`).
 */
export type JobDecorator<TData = unknown> = <This, M extends (this: This, ctx: JobContext<TData, never>) => unknown>(
  method: M,
  context: ClassMethodDecoratorContext<This, M>
) => void

/** The part of `ClassMethodDecoratorContext` used here (all `declareJobs` has to provide). */
interface MethodContext {
  kind: string
  name: string | symbol
  static: boolean
  private: boolean
  metadata: DecoratorMetadataObject | undefined
  access: { get: (object: never) => unknown }
}

/** One decoration, as kept in the class's metadata. */
interface Declaration {
  /** The method's name (`#name` for a private one). */
  method: string | symbol
  /** Private names are per class: never overridden, never merged by name. */
  private: boolean
  /** Reads the method off an object (`context.access.get`): works for `#private` methods too. */
  get: (object: object) => unknown
  trigger: TriggerSpec
  options: DeclaredJobOptions
}

const JOB_KEYS = ['id', 'name', 'data', 'maxInstances', 'coalesce', 'misfireGraceTime', 'timeout', 'onLost', 'paused', 'replaceExisting']

/** `@Cron(expression, options?)`: a job firing on a cron expression. */
export function Cron<TData = unknown> (expression: string, options?: CronOptions<TData>): JobDecorator<TData> {
  return decorator('Cron', { cron: expression }, ['timezone', 'startAt', 'endAt', 'jitter'], options)
}

/** `@Interval(interval, options?)`: ms, an ISO 8601 duration or a duration object. */
export function Interval<TData = unknown> (interval: DurationInput, options?: IntervalOptions<TData>): JobDecorator<TData> {
  return decorator('Interval', { interval }, ['immediate', 'startAt', 'endAt', 'jitter'], options)
}

/** `@At(at, options?)`: a job firing once. */
export function At<TData = unknown> (at: DateInput, options?: AtOptions<TData>): JobDecorator<TData> {
  return decorator('At', { at }, ['jitter'], options)
}

/**
 * The decorator itself. Only the option keys are checked here (they decide what
 * goes to the trigger and what to the job); values are checked by `addJob`, with
 * the scheduler's zone and clock, like any job definition's.
 */
function decorator<TData> (kind: string, trigger: Record<string, unknown>, triggerKeys: string[], options: object | undefined): JobDecorator<TData> {
  const opts = (options === undefined ? {} : options) as Record<string, unknown>
  return (method: unknown, context: MethodContext | undefined): void => {
    const where = `@${kind} on ${describeMethod(context)}`
    const fail = (problem: string): SchedulerError => new SchedulerError(ErrorCodes.INVALID_JOB, `${where}: ${problem}`, 400)
    if (context?.kind !== 'method' || typeof method !== 'function') throw fail('decorates methods only')
    // A static method has no object to be bound to and to be handed to addJobsFrom.
    if (context.static) throw fail('static methods are not supported; decorate an instance method and hand an instance to addJobsFrom')
    if (context.metadata == null) throw fail('context.metadata is missing: compile with TypeScript >= 5.2 (or another compiler with decorator metadata), or use declareJobs()')
    if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw fail(`options must be an object, got ${describe(opts)}`)
    const spec = { ...trigger }
    const job: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(opts)) {
      if (JOB_KEYS.includes(key)) job[key] = value
      else if (triggerKeys.includes(key)) spec[key] = value
      else throw fail(`unknown option "${key}"; known: ${[...JOB_KEYS, ...triggerKeys].join(', ')}`)
    }
    if (job.id !== undefined && (typeof job.id !== 'string' || job.id === '')) throw fail(`id ${describe(job.id)} must be a non-empty string`)
    const metadata = context.metadata as Record<symbol, unknown>
    if (!Object.hasOwn(metadata, DECLARATIONS)) metadata[DECLARATIONS] = []
    const declarations = metadata[DECLARATIONS] as Declaration[]
    // A method decorated twice gets two jobs, and only one of them can take the
    // default id. Rather than invent suffixes (which would change when the
    // decorators are reordered), every declaration but one must name its id.
    if (job.id === undefined && declarations.some((d) => d.method === context.name && d.options.id === undefined)) {
      throw fail('the method is decorated more than once without an id; give all but one of its decorators an explicit id')
    }
    declarations.push({ method: context.name, private: context.private, get: context.access.get as Declaration['get'], trigger: spec as unknown as TriggerSpec, options: job })
  }
}

/**
 * The job definitions an object's decorated methods declare, its inherited ones
 * included: one per decoration, `this` bound to the object, default id
 * `ClassName.methodName` with the object's own class. A subclass that decorates
 * a method again replaces the parent's declarations for that method; one that
 * overrides it undecorated keeps them, and the override is what runs.
 */
export function jobsOf (object: object): JobDefinition[] {
  if (object === null || typeof object !== 'object') {
    throw new SchedulerError(ErrorCodes.INVALID_JOB, `jobsOf expects an object, got ${describe(object)}`, 400)
  }
  // Base class first, so a subclass's declarations replace (in place) its parent's.
  const levels: Declaration[][] = []
  for (let meta = metadataOf(object); meta !== null; meta = Object.getPrototypeOf(meta)) {
    if (Object.hasOwn(meta, DECLARATIONS)) levels.unshift((meta as Record<symbol, Declaration[]>)[DECLARATIONS])
  }
  const byMethod = new Map<unknown, Declaration[]>()
  for (const level of levels) {
    const own = new Map<unknown, Declaration[]>()
    for (const declaration of level) {
      const key = declaration.private ? declaration : declaration.method
      own.set(key, [...(own.get(key) ?? []), declaration])
    }
    for (const [key, declarations] of own) byMethod.set(key, declarations)
  }
  const className = classOf(object)
  const definitions: JobDefinition[] = []
  const ids = new Set<string>()
  for (const declaration of [...byMethod.values()].flat()) {
    const { method, options } = declaration
    if (options.id === undefined && className === undefined) {
      throw new SchedulerError(ErrorCodes.INVALID_JOB, `The decorated method ${String(method)} of an anonymous class needs an explicit id`, 400)
    }
    const id = options.id ?? `${className}.${String(method)}`
    if (ids.has(id)) {
      throw new SchedulerError(ErrorCodes.INVALID_JOB, `Two decorated methods of ${className ?? 'an anonymous class'} declare the job id ${describe(id)}; give one another id`, 400)
    }
    ids.add(id)
    const fn = declaration.get(object)
    if (typeof fn !== 'function') {
      throw new SchedulerError(ErrorCodes.INVALID_JOB, `Job ${describe(id)}: ${String(method)} is not a function on the object (${describe(fn)})`, 400)
    }
    definitions.push({ ...options, id, trigger: { ...declaration.trigger }, handler: fn.bind(object) as JobDefinition['handler'] })
  }
  return definitions
}

/**
 * Declares jobs without decorator syntax (plain JS, where Node has none yet):
 * `declareJobs(Maintenance, { vacuum: Cron('0 3 * * *'), tick: [Interval(1000), At(date, { id: 'once' })] })`
 * is `@Cron('0 3 * * *') vacuum ()` and so on. Returns the class.
 */
export function declareJobs<C extends abstract new (...args: never[]) => object> (
  target: C,
  declarations: { [K in keyof InstanceType<C>]?: JobDecorator<never> | Array<JobDecorator<never>> }
): C {
  if (typeof target !== 'function' || target.prototype === null || typeof target.prototype !== 'object') {
    throw new SchedulerError(ErrorCodes.INVALID_JOB, `declareJobs expects a class, got ${describe(target)}`, 400)
  }
  if (declarations === null || typeof declarations !== 'object') {
    throw new SchedulerError(ErrorCodes.INVALID_JOB, `declareJobs expects { methodName: Cron(...) | [Cron(...), ...] }, got ${describe(declarations)}`, 400)
  }
  const holder = target as unknown as Record<symbol, object | null | undefined>
  // The class's own metadata object, made as a compiler would: inheriting the parent's.
  if (!Object.hasOwn(holder, METADATA)) {
    Object.defineProperty(holder, METADATA, { value: Object.create(holder[METADATA] ?? null), enumerable: true, configurable: true, writable: true })
  }
  const metadata = holder[METADATA] as DecoratorMetadataObject
  const prototype = target.prototype as Record<string | symbol, unknown>
  for (const name of Reflect.ownKeys(declarations)) {
    const method = prototype[name]
    if (typeof method !== 'function') {
      throw new SchedulerError(ErrorCodes.INVALID_JOB, `declareJobs: ${target.name || 'the class'} has no method ${String(name)}`, 400)
    }
    const entry = (declarations as Record<string | symbol, unknown>)[name]
    for (const decorator of Array.isArray(entry) ? entry : [entry]) {
      const context = {
        kind: 'method',
        name,
        static: false,
        private: false,
        metadata,
        access: { get: (object: object) => (object as Record<string | symbol, unknown>)[name] }
      } satisfies MethodContext
      // Our decorators return nothing; a function that returns something was not
      // made by Cron(...), Interval(...) or At(...) (`Cron` itself, for one).
      if (typeof decorator !== 'function' || (decorator as (method: unknown, context: unknown) => unknown)(method, context) !== undefined) {
        throw new SchedulerError(ErrorCodes.INVALID_JOB, `declareJobs: ${String(name)} expects Cron(...), Interval(...) or At(...), got ${describe(decorator)}`, 400)
      }
    }
  }
  return target
}

/** The decorator metadata of the object's class (null when it has none). */
function metadataOf (object: object): object | null {
  const constructor = (object as { constructor?: unknown }).constructor
  if (typeof constructor !== 'function') return null
  return (constructor as unknown as Record<symbol, object | undefined>)[METADATA] ?? null
}

/** The name of the object's class, for default ids and messages; undefined when anonymous. */
export function classOf (object: object): string | undefined {
  const constructor = (object as { constructor?: unknown }).constructor
  return typeof constructor === 'function' && constructor.name !== '' ? constructor.name : undefined
}

function describeMethod (context: { name?: unknown } | undefined): string {
  const name = context?.name
  return typeof name === 'string' || typeof name === 'symbol' ? `method ${String(name)}` : 'a non-method'
}
