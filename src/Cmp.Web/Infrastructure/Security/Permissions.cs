namespace Cmp.Web.Infrastructure.Security;

/// <summary>Roles a user holds in an organization (Waldur: customer).</summary>
public enum CustomerRole
{
    Owner,
    Manager,
    Support,
}

/// <summary>Roles a user holds in a project.</summary>
public enum ProjectRole
{
    Admin,
    Manager,
    Member,
}

/// <summary>Permission names, spelled as Waldur spells them.</summary>
public static class Permission
{
    public const string ViewCustomer = "VIEW_CUSTOMER";
    public const string UpdateCustomer = "UPDATE_CUSTOMER";
    public const string ManageCustomerUsers = "MANAGE_CUSTOMER_USERS";
    public const string CreateProject = "CREATE_PROJECT";
    public const string ViewProject = "VIEW_PROJECT";
    public const string UpdateProject = "UPDATE_PROJECT";
    public const string DeleteProject = "DELETE_PROJECT";
    public const string ManageProjectUsers = "MANAGE_PROJECT_USERS";
    public const string RegisterServiceProvider = "REGISTER_SERVICE_PROVIDER";
    public const string ApproveOrder = "APPROVE_ORDER";
    public const string CreateOrder = "CREATE_ORDER";
    public const string ManageOfferings = "MANAGE_OFFERINGS";
}

/// <summary>
/// The one role → permission table. Customer roles apply to the organization and to every project
/// in it; project roles apply to that project only. Staff hold every permission everywhere.
/// </summary>
public static class RolePermissions
{
    private static readonly string[] ProjectWide =
        [Permission.ViewProject, Permission.UpdateProject, Permission.DeleteProject, Permission.ManageProjectUsers, Permission.CreateOrder];

    public static readonly IReadOnlyDictionary<CustomerRole, IReadOnlySet<string>> Customer = new Dictionary<CustomerRole, IReadOnlySet<string>>
    {
        [CustomerRole.Owner] = new HashSet<string>(
            [Permission.ViewCustomer, Permission.UpdateCustomer, Permission.ManageCustomerUsers, Permission.CreateProject,
             Permission.RegisterServiceProvider, Permission.ManageOfferings, Permission.ApproveOrder, .. ProjectWide]),
        [CustomerRole.Manager] = new HashSet<string>(
            [Permission.ViewCustomer, Permission.CreateProject, Permission.ViewProject, Permission.UpdateProject,
             Permission.ManageProjectUsers, Permission.CreateOrder]),
        [CustomerRole.Support] = new HashSet<string>([Permission.ViewCustomer, Permission.ViewProject]),
    };

    public static readonly IReadOnlyDictionary<ProjectRole, IReadOnlySet<string>> Project = new Dictionary<ProjectRole, IReadOnlySet<string>>
    {
        [ProjectRole.Admin] = new HashSet<string>([Permission.ViewProject, Permission.UpdateProject, Permission.ManageProjectUsers, Permission.CreateOrder]),
        [ProjectRole.Manager] = new HashSet<string>([Permission.ViewProject, Permission.UpdateProject, Permission.CreateOrder]),
        [ProjectRole.Member] = new HashSet<string>([Permission.ViewProject, Permission.CreateOrder]),
    };
}
