/**
 * The part of jstat (which ships no type declarations) that packages/core uses.
 */
declare module "jstat" {
  interface StudentT {
    /** Cumulative distribution function of Student's t with `dof` degrees of freedom. */
    cdf(x: number, dof: number): number
  }
  interface JStat {
    readonly studentt: StudentT
  }
  const jStat: JStat
  export = jStat
}
